package auth

import (
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// ConnectionString is an Event Hubs connection string:
//
//	Endpoint=sb://<namespace-or-alias host>/;SharedAccessKeyName=<rule>;SharedAccessKey=<key>[;EntityPath=<hub>]
//
// or, with a token instead of a key, Endpoint=…;SharedAccessSignature=SharedAccessSignature sr=…
//
// UseDevelopmentEmulator=true (the Event Hubs emulator's strings) tells the Azure SDKs to dial
// plain AMQP at the endpoint's host and port (default 5672) instead of AMQPS: the endpoint is
// then a server address such as sb://127.0.0.1:5672/ or sb://localhost, not a namespace host.
type ConnectionString struct {
	Endpoint              string // as given, for example "sb://ns1.servicebus.windows.net/"
	SharedAccessKeyName   string // the shared access policy (rule) name
	SharedAccessKey       string // the policy's key; empty when SharedAccessSignature is set
	SharedAccessSignature string // a full SAS token; empty when a key is set
	EntityPath            string // the event hub, optional
	// UseDevelopmentEmulator is set by UseDevelopmentEmulator=<bool> (parsed with
	// strconv.ParseBool, as the Go SDK does: true, True, 1, …). String writes it as lowercase
	// "true", the only spelling the JS SDK honours.
	UseDevelopmentEmulator bool
}

// The keys of a connection string, in the order String writes them.
const (
	keyEndpoint  = "Endpoint"
	keyKeyName   = "SharedAccessKeyName"
	keyKey       = "SharedAccessKey"
	keySignature = "SharedAccessSignature"
	keyEntity    = "EntityPath"
	keyEmulator  = "UseDevelopmentEmulator"
)

var connKeys = []string{keyEndpoint, keyKeyName, keyKey, keySignature, keyEntity, keyEmulator}

// ParseConnectionString parses s. Keys are case-insensitive, spaces around parts and a trailing
// ';' are tolerated, and unknown keys are ignored. The endpoint must be a URL with a host;
// either SharedAccessKeyName and SharedAccessKey, or SharedAccessSignature, must be present.
// UseDevelopmentEmulator takes what strconv.ParseBool takes.
func ParseConnectionString(s string) (ConnectionString, error) {
	var cs ConnectionString
	seen := map[string]bool{}
	for i, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return ConnectionString{}, errcode.New(errcode.InvalidArgument,
				"connection string part %d has no '='; parts look like Key=value and are separated by ';'", i+1)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		canon := ""
		for _, known := range connKeys {
			if strings.EqualFold(k, known) {
				canon = known
			}
		}
		if canon == "" {
			continue
		}
		if seen[canon] {
			return ConnectionString{}, errcode.New(errcode.InvalidArgument,
				"connection string sets %s twice; give it once", canon)
		}
		seen[canon] = true
		switch canon {
		case keyEndpoint:
			cs.Endpoint = v
		case keyKeyName:
			cs.SharedAccessKeyName = v
		case keyKey:
			cs.SharedAccessKey = v
		case keySignature:
			cs.SharedAccessSignature = v
		case keyEntity:
			cs.EntityPath = v
		case keyEmulator:
			on, err := strconv.ParseBool(v)
			if err != nil {
				return ConnectionString{}, errcode.New(errcode.InvalidArgument,
					"connection string UseDevelopmentEmulator=%q is not a boolean; use UseDevelopmentEmulator=true", clip(v))
			}
			cs.UseDevelopmentEmulator = on
		}
	}
	if err := cs.Validate(); err != nil {
		return ConnectionString{}, err
	}
	return cs, nil
}

// Validate checks that the connection string has a usable endpoint and one kind of credential.
func (cs ConnectionString) Validate() error {
	if cs.Endpoint == "" {
		return errcode.New(errcode.InvalidArgument,
			"connection string has no Endpoint; add Endpoint=sb://<namespace host>/")
	}
	if _, err := endpointHost(cs.Endpoint); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{
		{keyKeyName, cs.SharedAccessKeyName}, {keyKey, cs.SharedAccessKey},
		{keySignature, cs.SharedAccessSignature}, {keyEntity, cs.EntityPath},
	} {
		if strings.ContainsAny(f.v, ";") || strings.TrimSpace(f.v) != f.v {
			return errcode.New(errcode.InvalidArgument,
				"connection string %s must not contain ';' or surrounding spaces", f.name)
		}
	}
	if cs.SharedAccessSignature != "" {
		if cs.SharedAccessKey != "" {
			return errcode.New(errcode.InvalidArgument,
				"connection string has both SharedAccessKey and SharedAccessSignature; give only one")
		}
		if _, err := ParseSASToken(cs.SharedAccessSignature); err != nil {
			return errcode.New(errcode.InvalidArgument, "connection string SharedAccessSignature: %w", err)
		}
		return nil
	}
	switch {
	case cs.SharedAccessKeyName == "" && cs.SharedAccessKey == "":
		return errcode.New(errcode.InvalidArgument,
			"connection string has no credentials; add SharedAccessKeyName=<rule>;SharedAccessKey=<key> or SharedAccessSignature=<token>")
	case cs.SharedAccessKeyName == "":
		return errcode.New(errcode.InvalidArgument,
			"connection string has a SharedAccessKey but no SharedAccessKeyName; add the policy name, for example SharedAccessKeyName=RootManageSharedAccessKey")
	case cs.SharedAccessKey == "":
		return errcode.New(errcode.InvalidArgument,
			"connection string names rule %q but has no SharedAccessKey; add SharedAccessKey=<key> (see 'tandem namespace keys')", cs.SharedAccessKeyName)
	}
	return nil
}

// String formats the connection string in Azure's key order; ParseConnectionString reads it back.
func (cs ConnectionString) String() string {
	var b strings.Builder
	add := func(k, v string) {
		if v == "" {
			return
		}
		if b.Len() > 0 {
			b.WriteByte(';')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(v)
	}
	add(keyEndpoint, cs.Endpoint)
	add(keyKeyName, cs.SharedAccessKeyName)
	add(keyKey, cs.SharedAccessKey)
	add(keySignature, cs.SharedAccessSignature)
	add(keyEntity, cs.EntityPath)
	if cs.UseDevelopmentEmulator {
		add(keyEmulator, "true")
	}
	return b.String()
}

// Host returns the endpoint's host name in lower case, without scheme or port.
func (cs ConnectionString) Host() string {
	h, _ := endpointHost(cs.Endpoint)
	return h
}

// Namespace returns the namespace (or alias) name: the first label of the endpoint host, so
// "sb://ns1.servicebus.windows.net/", "sb://ns1.localhost:5671/" and "sb://ns1/" all give "ns1".
// It returns "" when the host names no namespace (see NamesNamespace): an emulator string's
// sb://localhost or sb://127.0.0.1:5672/; the AMQP server then takes the namespace from the
// token the client puts to $cbs.
func (cs ConnectionString) Namespace() string {
	if !cs.NamesNamespace() {
		return ""
	}
	h := cs.Host()
	name, _, _ := strings.Cut(h, ".")
	return name
}

// NamesNamespace reports whether the endpoint host names a namespace. It is false only for a
// development-emulator string (UseDevelopmentEmulator=true) whose host is "localhost" or an IP
// address: there the host is where the server listens. ns1.localhost still names ns1.
func (cs ConnectionString) NamesNamespace() bool {
	if !cs.UseDevelopmentEmulator {
		return true
	}
	h := cs.Host()
	return h != "localhost" && net.ParseIP(h) == nil
}

// ResourceURI returns the URI a SAS token for this connection string signs:
// sb://<host>/ for the namespace, or sb://<host>/<hub> when EntityPath is set.
func (cs ConnectionString) ResourceURI() string {
	return "sb://" + cs.Host() + "/" + cs.EntityPath
}

func endpointHost(endpoint string) (string, error) {
	raw := endpoint
	if !strings.Contains(raw, "://") {
		raw = "sb://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return "", errcode.New(errcode.InvalidArgument,
			"connection string Endpoint %q is not a URL with a host; use Endpoint=sb://<namespace host>/", clip(endpoint))
	}
	switch strings.ToLower(u.Scheme) {
	case "sb", "amqps", "amqp", "https", "http":
	default:
		return "", errcode.New(errcode.InvalidArgument,
			"connection string Endpoint scheme %q is not supported; use sb://<namespace host>/", u.Scheme)
	}
	return strings.ToLower(u.Hostname()), nil
}

// clip shortens user input quoted in an error so a pasted secret or huge string is not echoed whole.
func clip(s string) string {
	const max = 40
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
