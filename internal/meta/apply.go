package meta

import "github.com/tandem-streaming/tandem/internal/errcode"

// Apply validates c against the state and, if valid, applies it as the command at index, which
// must be after the last applied index. A command that fails validation changes nothing, not
// even the index.
func (s *State) Apply(index uint64, c Command) error {
	if index <= s.index {
		return errcode.New(errcode.Conflict,
			"metadata command index %d is not after the last applied index %d; apply entries in log order", index, s.index)
	}
	if err := s.Check(c); err != nil {
		return err
	}
	c.apply(s)
	s.index = index
	return nil
}

// Check reports whether c would apply to the current state, without applying it.
func (s *State) Check(c Command) error {
	if c == nil {
		return errcode.New(errcode.InvalidArgument, "metadata command is nil")
	}
	return c.check(s)
}
