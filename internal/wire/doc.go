// Package wire is the protocol between the gateway and the core: framed, versioned,
// length-limited binary messages, decoded strictly (Inv 7).
//
// Every frame is a 4-byte big-endian length followed by that many bytes:
//
//	version (1 byte, = Version) | message type (1 byte) | request id (8 bytes, big-endian) | body
//
// Bodies have fixed layouts (see messages.go). A decoder refuses an unknown version or
// message type, any length that does not match its layout, and trailing bytes. The core
// decodes only what the gateway sends; the gateway decodes only what the core sends; neither
// trusts the other's bytes beyond these rules. Frames are limited to MaxFrame bytes on read,
// before anything is allocated.
//
// Failures cross the boundary as a Kind with a short message (Inv 8); no Go error value,
// stack or panic does.
package wire
