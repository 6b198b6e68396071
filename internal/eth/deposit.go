package eth

import (
	"fmt"

	apiv1 "github.com/attestantio/go-eth2-client/api/v1"
	"github.com/attestantio/go-eth2-client/spec/phase0"
)

const (
	depositMessageSize        = 88
	depositBodySize           = depositMessageSize + 4
	validatorRegistrationSize = 84
)

// decodeDeposit handles DEPOSIT: a DepositMessage followed by the 4-byte
// genesis_fork_version the client claims. The domain is DEPOSIT with the pinned
// GENESIS_FORK_VERSION and a zero genesis validators root; a claimed version that differs is
// refused (Inv 3).
func (n *Network) decodeDeposit(r *Request, s *Signable) (decoded, error) {
	if len(r.Body) != depositBodySize {
		return decoded{}, fieldErr(ErrMalformed, "deposit", fmt.Sprintf("SSZ body is %d bytes, want %d", len(r.Body), depositBodySize))
	}
	var m phase0.DepositMessage
	root, err := decodeSSZ("deposit", r.Body[:depositMessageSize], depositMessageSize, &m)
	if err != nil {
		return decoded{}, err
	}
	var claimed [4]byte
	copy(claimed[:], r.Body[depositMessageSize:])
	if claimed != n.GenesisForkVersion {
		return decoded{}, fieldErr(ErrWrongNetwork, "deposit.genesis_fork_version",
			fmt.Sprintf("0x%x is not %s's 0x%x", claimed[:], n.Name, n.GenesisForkVersion[:]))
	}
	s.Class = ClassOther
	s.Deposit.Pubkey = m.PublicKey
	copy(s.Deposit.WithdrawalCredentials[:], m.WithdrawalCredentials)
	s.Deposit.Amount = uint64(m.Amount)
	return decoded{root: root, domain: DomainDeposit, rule: ruleGenesis}, nil
}

// decodeRegistration handles VALIDATOR_REGISTRATION: the builder-specs
// ValidatorRegistrationV1, domain APPLICATION_BUILDER with the pinned GENESIS_FORK_VERSION
// and a zero genesis validators root.
func (n *Network) decodeRegistration(r *Request, s *Signable) (decoded, error) {
	var v apiv1.ValidatorRegistration
	root, err := decodeSSZ("validator_registration", r.Body, validatorRegistrationSize, &v)
	if err != nil {
		return decoded{}, err
	}
	s.Class = ClassOther
	s.Registration = RegistrationInfo{
		FeeRecipient: v.FeeRecipient,
		GasLimit:     v.GasLimit,
		Timestamp:    uint64(v.Timestamp.Unix()),
		Pubkey:       v.Pubkey,
	}
	return decoded{root: root, domain: DomainApplicationBuilder, rule: ruleGenesis}, nil
}
