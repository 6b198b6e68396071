package eth

import "github.com/attestantio/go-eth2-client/spec/phase0"

const voluntaryExitSize = 16

// decodeExit handles VOLUNTARY_EXIT: domain VOLUNTARY_EXIT with the EIP-7044 rule (see
// Network.domainVersion).
func (n *Network) decodeExit(r *Request, s *Signable) (decoded, error) {
	var e phase0.VoluntaryExit
	root, err := decodeSSZ("voluntary_exit", r.Body, voluntaryExitSize, &e)
	if err != nil {
		return decoded{}, err
	}
	s.Class = ClassOther
	s.Exit = ExitInfo{Epoch: uint64(e.Epoch), ValidatorIndex: uint64(e.ValidatorIndex)}
	return decoded{root: root, domain: DomainVoluntaryExit, epoch: uint64(e.Epoch), rule: ruleExit}, nil
}
