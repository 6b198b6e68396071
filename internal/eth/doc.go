// Package eth turns typed Ethereum consensus signing requests into signing roots.
//
// It is part of the trusted core: the core calls Network.Signable on bytes that crossed the
// gateway boundary, so every decoder here treats its input as hostile and decodes it
// strictly: exact sizes, canonical SSZ only, no trailing bytes (Inv 7). The domain and fork
// schedule come only from the Network pinned at init (Inv 3); fork_info from a client is
// checked against it and a contradiction is refused. A root handed in by a client is never
// signed, only compared with the one computed here (Inv 2). Every refusal is a *FieldError
// naming the field at fault; the core maps all of them to "bad request" (Inv 8), and no
// input makes Signable panic. The package does no I/O, logging or clock reads.
//
// # Wire contract
//
// Request.Body is the SSZ encoding of the container below; the gateway encodes to it, the
// core decodes it. Types are those of github.com/attestantio/go-eth2-client.
//
//	Type                                   Version            Body (SSZ)                       Domain, epoch
//	BLOCK                                  unset or PHASE0    phase0.BeaconBlock               BEACON_PROPOSER, epoch(slot)
//	BLOCK_V2                               PHASE0             phase0.BeaconBlock               BEACON_PROPOSER, epoch(slot)
//	BLOCK_V2                               ALTAIR             altair.BeaconBlock               BEACON_PROPOSER, epoch(slot)
//	BLOCK_V2                               BELLATRIX..FULU    phase0.BeaconBlockHeader         BEACON_PROPOSER, epoch(slot)
//	ATTESTATION                            unset              phase0.AttestationData           BEACON_ATTESTER, target epoch
//	AGGREGATION_SLOT                       unset              uint64 slot (8 bytes LE)         SELECTION_PROOF, epoch(slot)
//	AGGREGATE_AND_PROOF, _V2               PHASE0..DENEB      phase0.AggregateAndProof         AGGREGATE_AND_PROOF, epoch(aggregate.data.slot)
//	AGGREGATE_AND_PROOF, _V2               ELECTRA, FULU      electra.AggregateAndProof        AGGREGATE_AND_PROOF, epoch(aggregate.data.slot)
//	RANDAO_REVEAL                          unset              uint64 epoch (8 bytes LE)        RANDAO, epoch
//	VOLUNTARY_EXIT                         unset              phase0.VoluntaryExit             VOLUNTARY_EXIT, EIP-7044 (below)
//	DEPOSIT                                unset              phase0.DepositMessage ‖ Bytes4   DEPOSIT, GENESIS_FORK_VERSION, zero root
//	SYNC_COMMITTEE_MESSAGE                 unset              Root ‖ uint64 slot (40 bytes)    SYNC_COMMITTEE, epoch(slot)
//	SYNC_COMMITTEE_SELECTION_PROOF         unset              altair.SyncAggregatorSelectionData  SYNC_COMMITTEE_SELECTION_PROOF, epoch(slot)
//	SYNC_COMMITTEE_CONTRIBUTION_AND_PROOF  unset              altair.ContributionAndProof      CONTRIBUTION_AND_PROOF, epoch(contribution.slot)
//	VALIDATOR_REGISTRATION                 unset              apiv1.ValidatorRegistration      APPLICATION_BUILDER, GENESIS_FORK_VERSION, zero root
//
// DEPOSIT's trailing Bytes4 is the genesis_fork_version the client claims; it must equal the
// pinned one. SYNC_COMMITTEE_MESSAGE signs the block root itself. Version selects the
// container and must agree with the pinned fork at the message's slot by family: a phase0
// block only in Phase0, an Altair block only in Altair, a header from Bellatrix on; a phase0
// aggregate before Electra, an Electra aggregate from Electra on. The sync committee types
// need Altair active at their slot.
//
// # Fork info
//
// fork_info is required for every type but DEPOSIT and VALIDATOR_REGISTRATION (for those it
// is checked if present). Its genesis_validators_root must be the pinned one, and
// (previous_version, current_version, epoch) must be exactly one transition of the pinned
// schedule: (G, G, 0) at genesis, or (version of the fork before f, version of f, epoch of f)
// for a scheduled fork f. Except for VOLUNTARY_EXIT, the version get_domain would take from
// fork_info at the message epoch must equal the pinned fork's version at that epoch.
//
// VOLUNTARY_EXIT follows EIP-7044: when Deneb is in effect — the pinned fork at the exit
// epoch is Deneb or later, or fork_info's current fork is — the domain uses the pinned
// CAPELLA_FORK_VERSION; otherwise the version of the pinned fork at the exit epoch.
package eth
