package meta

import (
	"net"
	"net/netip"
	"time"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }

// validNamespaceName follows Event Hubs: 6-50 letters, digits and hyphens, starting with a
// letter and ending with a letter or digit. The dev-mode namespace "default" is allowed too.
func validNamespaceName(name string) error {
	if name == DevNamespace {
		return nil
	}
	bad := len(name) < 6 || len(name) > 50 || !isLetter(name[0])
	if !bad {
		last := name[len(name)-1]
		bad = !isLetter(last) && !isDigit(last)
	}
	for i := 0; !bad && i < len(name); i++ {
		c := name[i]
		bad = !isLetter(c) && !isDigit(c) && c != '-'
	}
	if bad {
		return errcode.New(errcode.InvalidArgument,
			"namespace name %q is invalid; use 6 to 50 letters, digits and hyphens, starting with a letter and ending with a letter or digit", name)
	}
	return nil
}

// validEntityName checks an event hub or policy name: 1-256 letters, digits, '.', '-', '_'.
func validEntityName(kind, name string) error {
	if len(name) == 0 || len(name) > 256 || !entityChars(name) {
		return errcode.New(errcode.InvalidArgument,
			"%s name %q is invalid; use 1 to 256 letters, digits, '.', '-' and '_'", kind, name)
	}
	return nil
}

// validGroupName is validEntityName, except that "$Default" is allowed.
func validGroupName(name string) error {
	if name == DefaultGroup {
		return nil
	}
	if len(name) > 0 && name[0] == '$' {
		return errcode.New(errcode.InvalidArgument,
			"consumer group name %q is invalid; only %s may start with '$'", name, DefaultGroup)
	}
	return validEntityName("consumer group", name)
}

func entityChars(name string) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !isLetter(c) && !isDigit(c) && c != '.' && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

func validTier(t Tier) error {
	switch t {
	case Basic, Standard, Premium, Dedicated:
		return nil
	}
	return errcode.New(errcode.InvalidArgument,
		"tier %q is invalid; use basic, standard, premium or dedicated", string(t))
}

func validPartitionCount(n int32) error {
	if n < 1 || n > MaxPartitionCount {
		return errcode.New(errcode.InvalidArgument,
			"partition count %d is out of range; an event hub has 1 to %d partitions", n, MaxPartitionCount)
	}
	return nil
}

func validRetention(d time.Duration) error {
	if d < MinRetention || d > MaxRetention {
		return errcode.New(errcode.InvalidArgument,
			"retention time %s is out of range; use 1h to 2160h (90 days)", d)
	}
	return nil
}

func validRetentionBytes(n int64) error {
	if n < 0 {
		return errcode.New(errcode.InvalidArgument,
			"retention size %d bytes is negative; use 0 for unlimited or a positive size", n)
	}
	return nil
}

func validMaxEventBytes(n int32) error {
	if n < MinMaxEventBytes || n > MaxMaxEventBytes {
		return errcode.New(errcode.InvalidArgument,
			"max event size %d bytes is out of range; use %d (1 KiB) to %d (20 MiB)", n, MinMaxEventBytes, MaxMaxEventBytes)
	}
	return nil
}

func validHubStatus(s HubStatus) error {
	switch s {
	case Active, Disabled, SendDisabled, ReceiveDisabled:
		return nil
	}
	return errcode.New(errcode.InvalidArgument,
		"event hub status %q is invalid; use Active, Disabled, SendDisabled or ReceiveDisabled", string(s))
}

func validAction(what string, a Action) error {
	if a == Allow || a == Deny {
		return nil
	}
	return errcode.New(errcode.InvalidArgument, "%s %q is invalid; use Allow or Deny", what, string(a))
}

// validNetworkRules checks r; empty actions mean Allow.
func validNetworkRules(r NetworkRules) error {
	if r.DefaultAction != "" {
		if err := validAction("network default action", r.DefaultAction); err != nil {
			return err
		}
	}
	for _, ip := range r.IPRules {
		if _, err := netip.ParsePrefix(ip.CIDR); err != nil {
			if _, err := netip.ParseAddr(ip.CIDR); err != nil {
				return errcode.New(errcode.InvalidArgument,
					"IP rule %q is neither an address nor a CIDR prefix; use for example 10.0.0.0/8 or 192.168.1.7", ip.CIDR)
			}
		}
		if ip.Action != "" {
			if err := validAction("IP rule action", ip.Action); err != nil {
				return err
			}
		}
	}
	for _, ep := range r.PrivateEndpoints {
		if _, port, err := net.SplitHostPort(ep); err != nil || port == "" {
			return errcode.New(errcode.InvalidArgument,
				"private endpoint %q is not a listener address; use host:port, for example 10.1.0.4:9093", ep)
		}
	}
	return nil
}

// normalizeNetworkRules fills the default actions. It returns a copy.
func normalizeNetworkRules(r NetworkRules) NetworkRules {
	r = r.clone()
	if r.DefaultAction == "" {
		r.DefaultAction = Allow
	}
	for i := range r.IPRules {
		if r.IPRules[i].Action == "" {
			r.IPRules[i].Action = Allow
		}
	}
	return r
}

func validKey(what, key string) error {
	if len(key) < 16 || len(key) > 256 {
		return errcode.New(errcode.InvalidArgument,
			"%s must be 16 to 256 characters; generate one with 'tandem policy regenerate-key' or leave it empty", what)
	}
	return nil
}
