package multiraft

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// Update is what one raft group needs made durable: the content of one
// MsgStorageAppend, or a ConfState after a conf change was applied. It has the
// fields of raftwal.Update (raftpb types are pointers in raft v3.7).
type Update struct {
	Group     uint64
	HardState *raftpb.HardState // nil or raft.IsEmptyHardState: nothing to write
	Snapshot  *raftpb.Snapshot  // nil or raft.IsEmptySnap: none; otherwise applied before Entries
	Entries   []*raftpb.Entry   // appended; an entry at index i replaces i and everything after it
	ConfState *raftpb.ConfState // non-nil: the group's ConfState after applying a conf change
}

// Storage is one group's raft log as raft reads it, plus the hook to record a
// snapshot the state machine made.
type Storage interface {
	raft.Storage
	// SetSnapshot durably records a snapshot taken by the state machine and
	// compacts the entries up to its index.
	SetSnapshot(snap *raftpb.Snapshot) error
}

// LogStore is the node-wide raft log (internal/raftwal's WAL, through a small
// adapter). Save must make every update durable before it returns and must
// be safe to call concurrently with reads of the group storages.
type LogStore interface {
	Save(updates []Update) error
	Storage(group uint64) Storage
}

// MemLogStore is a LogStore kept in memory, over raft.MemoryStorage. Every
// Save is "durable" when it returns: a simulated crash keeps the MemLogStore
// and throws the host away, which loses exactly what Save never got.
type MemLogStore struct {
	mu     sync.Mutex
	groups map[uint64]*memStorage
	saves  int
}

// NewMemLogStore returns an empty in-memory log store.
func NewMemLogStore() *MemLogStore {
	return &MemLogStore{groups: make(map[uint64]*memStorage)}
}

// Storage returns the group's storage, creating it empty.
func (s *MemLogStore) Storage(group uint64) Storage { return s.storage(group) }

func (s *MemLogStore) storage(group uint64) *memStorage {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.groups[group]
	if !ok {
		st = &memStorage{MemoryStorage: raft.NewMemoryStorage(), conf: &raftpb.ConfState{}}
		s.groups[group] = st
	}
	return st
}

// RemoveGroup forgets a group (GroupRemover).
func (s *MemLogStore) RemoveGroup(group uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.groups, group)
	return nil
}

// Groups lists the groups the store holds state of, sorted.
func (s *MemLogStore) Groups() []uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]uint64, 0, len(s.groups))
	for g := range s.groups {
		out = append(out, g)
	}
	slices.Sort(out)
	return out
}

// Saves counts the Save calls (one per group-commit flush).
func (s *MemLogStore) Saves() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.saves
}

// Save applies the updates in order.
func (s *MemLogStore) Save(updates []Update) error {
	s.mu.Lock()
	s.saves++
	s.mu.Unlock()
	for _, u := range updates {
		if err := s.storage(u.Group).save(u); err != nil {
			return fmt.Errorf("group %d: %w", u.Group, err)
		}
	}
	return nil
}

type memStorage struct {
	*raft.MemoryStorage
	mu   sync.Mutex // guards conf
	conf *raftpb.ConfState
}

func (m *memStorage) save(u Update) error {
	if u.Snapshot != nil && !raft.IsEmptySnap(u.Snapshot) {
		if err := m.ApplySnapshot(u.Snapshot); err != nil {
			return err
		}
		m.setConf(u.Snapshot.GetMetadata().GetConfState())
	}
	if err := m.Append(u.Entries); err != nil {
		return err
	}
	if u.HardState != nil && !raft.IsEmptyHardState(u.HardState) {
		if err := m.SetHardState(u.HardState); err != nil {
			return err
		}
	}
	if u.ConfState != nil {
		m.setConf(u.ConfState)
	}
	return nil
}

func (m *memStorage) setConf(cs *raftpb.ConfState) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if cs == nil {
		cs = &raftpb.ConfState{}
	}
	m.conf = proto.Clone(cs).(*raftpb.ConfState)
}

// InitialState returns the hard state and the last recorded ConfState (the
// MemoryStorage alone only knows the snapshot's).
func (m *memStorage) InitialState() (*raftpb.HardState, *raftpb.ConfState, error) {
	hs, _, err := m.MemoryStorage.InitialState()
	if err != nil {
		return nil, nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return hs, proto.Clone(m.conf).(*raftpb.ConfState), nil
}

// SetSnapshot records the state machine's snapshot and compacts the log up to
// its index.
func (m *memStorage) SetSnapshot(snap *raftpb.Snapshot) error {
	i := snap.GetMetadata().GetIndex()
	last, err := m.LastIndex()
	if err != nil {
		return err
	}
	if i > last {
		return fmt.Errorf("snapshot at %d is past the last log index %d", i, last)
	}
	if _, err := m.CreateSnapshot(i, snap.GetMetadata().GetConfState(), snap.GetData()); err != nil {
		if errors.Is(err, raft.ErrSnapOutOfDate) {
			return nil
		}
		return err
	}
	if err := m.Compact(i); err != nil && !errors.Is(err, raft.ErrCompacted) {
		return err
	}
	return nil
}
