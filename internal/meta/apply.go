package meta

import "github.com/tandem-streaming/tandem/internal/errcode"

// Apply validates c against the state and, if valid, applies it as the command at index, which
// must be after the last applied index. A command that fails validation changes nothing, not
// even the index. Apply checks what every log entry must meet, so that a log written under
// older name rules still replays; a new command must also pass Check (Store.Propose sees to it).
func (s *State) Apply(index uint64, c Command) error {
	if index <= s.index {
		return errcode.New(errcode.Conflict,
			"metadata command index %d is not after the last applied index %d; apply entries in log order", index, s.index)
	}
	if c == nil {
		return errNilCommand()
	}
	if err := c.check(s); err != nil {
		return err
	}
	c.apply(s)
	s.index = index
	s.touched.note(index, c)
	return nil
}

// Check reports whether c would be accepted as a new command, without applying it: what Apply
// checks, and the rules for new names (see admit).
func (s *State) Check(c Command) error {
	if c == nil {
		return errNilCommand()
	}
	if err := c.check(s); err != nil {
		return err
	}
	return admit(s, c)
}

func errNilCommand() error { return errcode.New(errcode.InvalidArgument, "metadata command is nil") }
