package tezos

import (
	"bytes"
	"fmt"
)

// Block header layout (magic 0x11), from Octez src/lib_base/block_header.ml
// (shell header) and src/proto_alpha/lib_protocol/block_header_repr.ml
// (unsigned protocol data; identical in proto_024 and proto_025):
//
//	off 0   magic 0x11
//	off 1   chain_id            4
//	off 5   level               int32          -> Request.Level
//	off 9   proto_level         uint8
//	off 10  predecessor         32
//	off 42  timestamp           int64
//	off 50  validation_passes   uint8
//	off 51  operations_hash     32
//	off 83  fitness             uint32 length F, then F bytes of items
//	        context             32
//	        payload_hash        32
//	        payload_round       int32
//	        proof_of_work_nonce 8
//	        seed_nonce_hash     option: 0x00 | 0xff ‖ 32
//	        per_block_votes     1
//
// The fitness (src/proto_alpha/lib_protocol/fitness_repr.ml, to_raw) is a
// list of length-prefixed items: version (1 byte, 0x02), level (4, equal to the
// shell level), locked_round (0 or 4), −1 − predecessor_round (4), round (4).
// So F is 33 or 37 and the round is the int32 at 83 + F, the last four bytes
// of the fitness (the offset octez-signer reads). keyward decodes every item
// and refuses anything else, in particular pre-Tenderbake fitnesses.
const (
	fitnessVersion     = 0x02
	fitnessLenUnlocked = 33
	fitnessLenLocked   = 37
)

func decodeBlock(r *reader, req *Request) error {
	c, err := r.take(4)
	if err != nil {
		return err
	}
	req.ChainID = ChainID(c)
	if req.Level, err = r.nonNegInt32("level"); err != nil {
		return err
	}
	if err := r.skip(1); err != nil { // proto_level
		return err
	}
	pred, err := r.array32("predecessor")
	if err != nil {
		return err
	}
	req.Predecessor = BlockHash(pred)
	if err := r.skip(8 + 1 + 32); err != nil { // timestamp, validation_passes, operations_hash
		return err
	}
	if req.Round, err = decodeFitness(r, req.Level); err != nil {
		return err
	}
	if err := r.skip(32); err != nil { // context
		return err
	}
	ph, err := r.array32("payload_hash")
	if err != nil {
		return err
	}
	req.PayloadHash = PayloadHash(ph)
	if req.PayloadRound, err = r.nonNegInt32("payload_round"); err != nil {
		return err
	}
	if err := r.skip(8); err != nil { // proof_of_work_nonce
		return err
	}
	seed, err := r.presence()
	if err != nil {
		return err
	}
	if seed {
		if err := r.skip(32); err != nil {
			return err
		}
	}
	votes, err := r.u8()
	if err != nil {
		return err
	}
	// One 2-bit vote (0 on, 1 off, 2 pass) since Tallinn; Paris to Seoul packed
	// a second one (adaptive issuance) in the next two bits
	// (per_block_votes_repr.ml). Both layouts are accepted, nothing else.
	if votes&0x03 == 0x03 || votes&0x0c == 0x0c || votes&0xf0 != 0 {
		return fmt.Errorf("%w: per_block_votes 0x%02x", ErrMalformed, votes)
	}
	return nil
}

// decodeFitness reads a Tenderbake fitness and returns its round.
func decodeFitness(r *reader, level uint32) (uint32, error) {
	f, err := r.dynamic()
	if err != nil {
		return 0, err
	}
	if len(f) != fitnessLenUnlocked && len(f) != fitnessLenLocked {
		return 0, fmt.Errorf("%w: fitness of %d bytes is not a Tenderbake fitness", ErrMalformed, len(f))
	}
	fr := &reader{b: f}
	version, err := fr.dynamic()
	if err != nil {
		return 0, err
	}
	if !bytes.Equal(version, []byte{fitnessVersion}) {
		return 0, fmt.Errorf("%w: fitness version %x", ErrMalformed, version)
	}
	lv, err := fitnessItem(fr, "fitness level")
	if err != nil {
		return 0, err
	}
	if lv != level {
		return 0, fmt.Errorf("%w: fitness level %d differs from header level %d", ErrMalformed, lv, level)
	}
	locked, err := fr.dynamic()
	if err != nil {
		return 0, err
	}
	switch len(locked) {
	case 0:
	case 4:
		if locked[0]&0x80 != 0 {
			return 0, fmt.Errorf("%w: negative locked round", ErrMalformed)
		}
	default:
		return 0, fmt.Errorf("%w: locked round of %d bytes", ErrMalformed, len(locked))
	}
	pr, err := fr.dynamic()
	if err != nil {
		return 0, err
	}
	// Stored as −1 − predecessor_round: a valid round ≥ 0 gives a negative int32.
	if len(pr) != 4 || pr[0]&0x80 == 0 {
		return 0, fmt.Errorf("%w: predecessor round item", ErrMalformed)
	}
	round, err := fitnessItem(fr, "fitness round")
	if err != nil {
		return 0, err
	}
	if fr.remaining() != 0 {
		return 0, fmt.Errorf("%w: fitness: %w", ErrMalformed, ErrTrailingBytes)
	}
	return round, nil
}

// fitnessItem reads a length-prefixed non-negative int32 item.
func fitnessItem(fr *reader, field string) (uint32, error) {
	b, err := fr.dynamic()
	if err != nil {
		return 0, err
	}
	if len(b) != 4 {
		return 0, fmt.Errorf("%w: %s of %d bytes", ErrMalformed, field, len(b))
	}
	ir := &reader{b: b}
	return ir.nonNegInt32(field)
}
