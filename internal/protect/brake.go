package protect

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// SetBrake sets the emergency brake (Web3Signer's high watermark): from when it returns,
// every block at a slot ≥ epoch × slots-per-epoch and every attestation with a source or
// target ≥ epoch is refused (RuleEmergencyBrake), even one that repeats a record. It is
// durable: the brake holds across restarts until ClearBrake. Use it while moving keys
// between signers: brake here at an epoch in the past, export, import there.
//
// A request whose check completed before SetBrake returned may still be signed.
func (s *Store) SetBrake(epoch uint64) error {
	if err := s.enter(); err != nil {
		return fmt.Errorf("set brake: %w", err)
	}
	defer s.leave()
	s.brakeMu.Lock()
	defer s.brakeMu.Unlock()
	err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keyBrake, be64(epoch))
	})
	if err != nil {
		return fmt.Errorf("set brake: %w", err)
	}
	s.brake.Store(&epoch)
	return nil
}

// ClearBrake lifts the emergency brake, durably.
func (s *Store) ClearBrake() error {
	if err := s.enter(); err != nil {
		return fmt.Errorf("clear brake: %w", err)
	}
	defer s.leave()
	s.brakeMu.Lock()
	defer s.brakeMu.Unlock()
	err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Delete(keyBrake)
	})
	if err != nil {
		return fmt.Errorf("clear brake: %w", err)
	}
	s.brake.Store(nil)
	return nil
}

// Brake returns the emergency-brake epoch, if the brake is set.
func (s *Store) Brake() (epoch uint64, ok bool) {
	if p := s.brake.Load(); p != nil {
		return *p, true
	}
	return 0, false
}
