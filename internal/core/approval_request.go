package core

import (
	"context"
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/keyward/keyward/internal/audit"
	"github.com/keyward/keyward/internal/eth"
	"github.com/keyward/keyward/internal/tezos"
	"github.com/keyward/keyward/internal/wire"
)

// signing is one signing request decided in two passes (approval.go): decide runs one
// pass (g: the operator's approval, on the second) and returns the answer, its failure
// (nil: signed) and what the core knows of the request; refuse makes an answer of a
// failure. Serve runs the second pass on a goroutine of its own, never on a signing worker.
type signing[R any] struct {
	decide func(g *grant) (R, *wire.Error, func() requestInfo)
	refuse func(*wire.Error) R
}

// ethSigning is the decision of an Ethereum request.
func (s *Service) ethSigning(r *wire.EthSignRequest) signing[*wire.SignResult] {
	return signing[*wire.SignResult]{
		decide: func(g *grant) (*wire.SignResult, *wire.Error, func() requestInfo) {
			res, sg := s.signEth(r, g)
			return res, res.Err, func() requestInfo { return ethInfo(r, sg) }
		},
		refuse: func(e *wire.Error) *wire.SignResult { return &wire.SignResult{Err: e} },
	}
}

// tezosSigning is the decision of a Tezos request.
func (s *Service) tezosSigning(r *wire.TezosSignRequest) signing[*wire.TezosSignResult] {
	return signing[*wire.TezosSignResult]{
		decide: func(g *grant) (*wire.TezosSignResult, *wire.Error, func() requestInfo) {
			res, req := s.signTezos(r, g)
			return res, res.Err, func() requestInfo { return tezosInfo(r, req) }
		},
		refuse: func(e *wire.Error) *wire.TezosSignResult { return &wire.TezosSignResult{Err: e} },
	}
}

// startSigning runs the first pass and returns the answer, or the pending approval
// finishSigning waits on.
func startSigning[R any](s *Service, sg signing[R]) (R, *pendingApproval) {
	res, werr, info := sg.decide(nil)
	p, final := s.begin(werr, info)
	switch {
	case p != nil:
		var none R
		return none, p
	case final != werr: // the request could not be held
		return sg.refuse(final), nil
	}
	return res, nil
}

// finishSigning waits for the operator's decision on p and returns the answer.
func finishSigning[R any](s *Service, ctx context.Context, p *pendingApproval, sg signing[R]) R {
	var res R
	werr := s.finish(ctx, p, func(g *grant) (*wire.Error, func() requestInfo) {
		var werr *wire.Error
		var info func() requestInfo
		res, werr, info = sg.decide(g)
		return werr, info
	})
	if werr != nil {
		return sg.refuse(werr)
	}
	return res
}

// decideNow decides on the caller's goroutine, waiting there for an operator if needed.
func decideNow[R any](s *Service, sg signing[R]) R {
	res, p := startSigning(s, sg)
	if p != nil {
		res = finishSigning(s, context.Background(), p, sg)
	}
	return res
}

// serveSigning answers a request on the wire: now, or later from wait when it waits for
// an operator (then it returns nil).
func serveSigning[R any](s *Service, f wire.Frame, wait *waiters, sg signing[R], encode func(R) []byte) []byte {
	res, p := startSigning(s, sg)
	if p == nil {
		return encode(res)
	}
	wait.answerLater(f, func(ctx context.Context) []byte { return encode(finishSigning(s, ctx, p, sg)) })
	return nil
}

// ethInfo is what the core knows of an Ethereum request; sg is nil when it did not decode.
func ethInfo(r *wire.EthSignRequest, sg *eth.Signable) requestInfo {
	info := requestInfo{event: ethEvent(r, sg)}
	if sg == nil {
		return info
	}
	info.held, info.digest = true, sg.SigningRoot
	if sg.Type == eth.TypeDeposit {
		info.facts = []wire.Fact{
			{Name: "deposit_pubkey", Value: "0x" + hex.EncodeToString(sg.Deposit.Pubkey[:])},
			{Name: "withdrawal_credentials", Value: "0x" + hex.EncodeToString(sg.Deposit.WithdrawalCredentials[:])},
		}
	}
	return info
}

// maxOperationFacts bounds the operations of a Tezos batch shown one by one.
const maxOperationFacts = wire.MaxApprovalFacts - 12

// tezosInfo is what the core knows of a Tezos request; req is nil when it did not decode.
// Each operation of a batch is shown: kind, and for a transaction its amount, destination
// and entrypoint; and its fee.
func tezosInfo(r *wire.TezosSignRequest, req *tezos.Request) requestInfo {
	info := requestInfo{event: tezosEvent(r, req)}
	if req == nil {
		return info
	}
	info.held, info.digest = true, tezos.PayloadHash256(r.Payload)
	if req.Kind != tezos.RequestGeneric {
		info.facts = append(info.facts, wire.Fact{Name: "chain_id", Value: req.ChainID.String()},
			wire.Fact{Name: "round", Value: strconv.FormatUint(uint64(req.Round), 10)})
	}
	for i, op := range req.Operations {
		if i == maxOperationFacts {
			info.facts = append(info.facts, wire.Fact{Name: "operations_not_shown", Value: strconv.Itoa(len(req.Operations) - i)})
			break
		}
		v := op.Kind.String()
		if op.Kind == tezos.OpTransaction {
			v += fmt.Sprintf(" of %d mutez to %s", op.Amount, op.Destination)
			if op.Entrypoint != "" && op.Entrypoint != "default" {
				v += ", entrypoint " + op.Entrypoint
			}
		}
		v += fmt.Sprintf(", fee %d mutez", op.Fee)
		info.facts = append(info.facts, wire.Fact{Name: "operation_" + strconv.Itoa(i+1), Value: v})
	}
	return info
}

// eventFacts are the decoded fields of an audit event, as an operator is shown them.
func eventFacts(ev audit.Event) []wire.Fact {
	var fs []wire.Fact
	num := func(name string, v *uint64) {
		if v != nil {
			fs = append(fs, wire.Fact{Name: name, Value: strconv.FormatUint(*v, 10)})
		}
	}
	num("validator_index", ev.ValidatorIndex)
	num("epoch", ev.Epoch)
	num("slot", ev.Slot)
	if ev.Level != nil {
		fs = append(fs, wire.Fact{Name: "level", Value: strconv.FormatUint(uint64(*ev.Level), 10)})
	}
	if ev.FeeRecipient != "" {
		fs = append(fs, wire.Fact{Name: "fee_recipient", Value: ev.FeeRecipient})
	}
	num("gas_limit", ev.GasLimit)
	if ev.Chain == "tezos" {
		num("total_amount_mutez", ev.Amount)
	} else {
		num("amount_gwei", ev.Amount)
	}
	if ev.Destination != "" {
		fs = append(fs, wire.Fact{Name: "destinations", Value: ev.Destination})
	}
	return fs
}
