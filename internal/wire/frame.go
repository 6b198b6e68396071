package wire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Version is the protocol version carried by every frame. A peer speaking another version
// is refused at its first frame.
const Version = 1

// MaxFrame is the largest frame either side accepts (Inv 7). It bounds the largest signing
// request body (a full phase0/altair block in SSZ is far smaller) and a key list of about
// 80,000 public keys.
const MaxFrame = 4 << 20

// headerLen is version, type and id.
const headerLen = 1 + 1 + 8

// Errors returned by the frame codec.
var (
	// ErrFrameTooLarge means a peer announced a frame above MaxFrame.
	ErrFrameTooLarge = errors.New("wire: frame too large")
	// ErrVersion means a peer speaks another protocol version.
	ErrVersion = errors.New("wire: unsupported protocol version")
	// ErrMalformed means a frame or body does not match its layout.
	ErrMalformed = errors.New("wire: malformed message")
)

// MsgType identifies the message a frame carries.
type MsgType uint8

// Message types. Values are part of the wire format: never renumber.
const (
	MsgEthSign       MsgType = 1 // gateway → core: EthSignRequest
	MsgEthSignResult MsgType = 2 // core → gateway: SignResult
	MsgListKeys      MsgType = 3 // gateway → core: empty body
	MsgKeyList       MsgType = 4 // core → gateway: KeyList
	MsgStatus        MsgType = 5 // gateway → core: empty body
	MsgStatusResult  MsgType = 6 // core → gateway: Status
	MsgError         MsgType = 7 // core → gateway: Error, for a request the core could not decode

	MsgKeystoreImport       MsgType = 8  // gateway → core: KeystoreImport
	MsgKeystoreImportResult MsgType = 9  // core → gateway: JSON []KeystoreStatus
	MsgKeystoreDelete       MsgType = 10 // gateway → core: KeystoreDelete
	MsgKeystoreDeleteResult MsgType = 11 // core → gateway: JSON KeystoreDeleteResult
	MsgKeystoreList         MsgType = 12 // gateway → core: empty body
	MsgKeystoreListResult   MsgType = 13 // core → gateway: JSON []KeystoreInfo
	MsgHighWatermark        MsgType = 14 // gateway → core: empty body
	MsgHighWatermarkResult  MsgType = 15 // core → gateway: JSON HighWatermark
)

// Frame is one decoded frame: its type, request id and raw body.
type Frame struct {
	Type MsgType
	ID   uint64
	Body []byte
}

// ReadFrame reads one frame from r. It refuses lengths above MaxFrame before allocating.
func ReadFrame(r *bufio.Reader) (Frame, error) {
	var lenBuf [4]byte
	if _, err := io.ReadFull(r, lenBuf[:]); err != nil {
		return Frame{}, err
	}
	n := binary.BigEndian.Uint32(lenBuf[:])
	if n > MaxFrame {
		return Frame{}, fmt.Errorf("%w: %d bytes", ErrFrameTooLarge, n)
	}
	if n < headerLen {
		return Frame{}, fmt.Errorf("%w: frame of %d bytes", ErrMalformed, n)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return Frame{}, fmt.Errorf("read frame: %w", err)
	}
	return decodeFrame(buf)
}

func decodeFrame(buf []byte) (Frame, error) {
	if len(buf) < headerLen {
		return Frame{}, fmt.Errorf("%w: frame of %d bytes", ErrMalformed, len(buf))
	}
	if buf[0] != Version {
		return Frame{}, fmt.Errorf("%w: %d", ErrVersion, buf[0])
	}
	return Frame{Type: MsgType(buf[1]), ID: binary.BigEndian.Uint64(buf[2:10]), Body: buf[headerLen:]}, nil
}

// AppendFrame appends the encoding of a frame to dst.
func AppendFrame(dst []byte, t MsgType, id uint64, body []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(headerLen+len(body)))
	dst = append(dst, Version, byte(t))
	dst = binary.BigEndian.AppendUint64(dst, id)
	return append(dst, body...)
}

// StartFrame begins a frame at b[0:] whose body the caller appends; FinishFrame then sets
// its length. This avoids copying a body built separately.
func StartFrame(t MsgType, id uint64) []byte {
	b := make([]byte, 4, 4+headerLen+128)
	b = append(b, Version, byte(t))
	return binary.BigEndian.AppendUint64(b, id)
}

// FinishFrame sets the length of a frame begun by StartFrame and returns it.
func FinishFrame(b []byte) []byte {
	binary.BigEndian.PutUint32(b[:4], uint32(len(b)-4))
	return b
}
