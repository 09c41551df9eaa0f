package auth

import (
	"slices"
	"strings"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// Right is one access right of a shared access policy, spelled as Azure spells it.
type Right string

// The rights of a shared access policy. Manage implies Send and Listen.
const (
	Manage Right = "Manage"
	Send   Right = "Send"
	Listen Right = "Listen"
)

// AllRights lists the rights in Azure's order.
var AllRights = []Right{Manage, Send, Listen}

// ParseRight parses a right case-insensitively ("send", "SEND" and "Send" are Send).
func ParseRight(s string) (Right, error) {
	t := strings.TrimSpace(s)
	for _, r := range AllRights {
		if strings.EqualFold(t, string(r)) {
			return r, nil
		}
	}
	return "", errcode.New(errcode.InvalidArgument,
		"unknown access right %q; use Manage, Send or Listen", s)
}

// Rights is the set of rights of a policy. Its JSON form is an array of names, as in ARM.
type Rights []Right

// ParseRights parses a list of right names, for example from a comma-separated flag.
// The result is normalized (see Normalize).
func ParseRights(names ...string) (Rights, error) {
	var rs Rights
	for _, n := range names {
		for _, part := range strings.Split(n, ",") {
			if strings.TrimSpace(part) == "" {
				continue
			}
			r, err := ParseRight(part)
			if err != nil {
				return nil, err
			}
			rs = append(rs, r)
		}
	}
	if len(rs) == 0 {
		return nil, errcode.New(errcode.InvalidArgument,
			"no access rights given; a policy needs at least one of Manage, Send or Listen")
	}
	return rs.Normalize(), nil
}

// Has reports whether the set grants r. Manage grants Send and Listen too.
func (rs Rights) Has(r Right) bool {
	for _, x := range rs {
		if x == r || (x == Manage && (r == Send || r == Listen)) {
			return true
		}
	}
	return false
}

// Validate reports the first right that is not Manage, Send or Listen, or an empty set.
func (rs Rights) Validate() error {
	if len(rs) == 0 {
		return errcode.New(errcode.InvalidArgument,
			"no access rights given; a policy needs at least one of Manage, Send or Listen")
	}
	for _, r := range rs {
		if !slices.Contains(AllRights, r) {
			return errcode.New(errcode.InvalidArgument,
				"unknown access right %q; use Manage, Send or Listen", string(r))
		}
	}
	return nil
}

// Normalize returns the set without duplicates, in Azure's order (Manage, Send, Listen), with
// Send and Listen added when Manage is present, since Azure requires Manage to carry both.
// Unknown rights are dropped; call Validate first to report them.
func (rs Rights) Normalize() Rights {
	out := Rights{}
	for _, r := range AllRights {
		if rs.Has(r) {
			out = append(out, r)
		}
	}
	return out
}

// String returns the rights comma-separated, for messages and CLI output.
func (rs Rights) String() string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = string(r)
	}
	return strings.Join(parts, ",")
}
