package auth

import (
	"net/url"
	"strings"

	"github.com/tandem-streaming/tandem/internal/errcode"
)

// ConnectionString is an Event Hubs connection string:
//
//	Endpoint=sb://<namespace-or-alias host>/;SharedAccessKeyName=<rule>;SharedAccessKey=<key>[;EntityPath=<hub>]
//
// or, with a token instead of a key, Endpoint=…;SharedAccessSignature=SharedAccessSignature sr=…
type ConnectionString struct {
	Endpoint              string // as given, for example "sb://ns1.servicebus.windows.net/"
	SharedAccessKeyName   string // the shared access policy (rule) name
	SharedAccessKey       string // the policy's key; empty when SharedAccessSignature is set
	SharedAccessSignature string // a full SAS token; empty when a key is set
	EntityPath            string // the event hub, optional
}

// The keys of a connection string, in the order String writes them.
const (
	keyEndpoint  = "Endpoint"
	keyKeyName   = "SharedAccessKeyName"
	keyKey       = "SharedAccessKey"
	keySignature = "SharedAccessSignature"
	keyEntity    = "EntityPath"
)

var connKeys = []string{keyEndpoint, keyKeyName, keyKey, keySignature, keyEntity}

// ParseConnectionString parses s. Keys are case-insensitive, spaces around parts and a trailing
// ';' are tolerated, and unknown keys (such as UseDevelopmentEmulator) are ignored. The endpoint
// must be a URL with a host; either SharedAccessKeyName and SharedAccessKey, or
// SharedAccessSignature, must be present.
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
	return b.String()
}

// Host returns the endpoint's host name in lower case, without scheme or port.
func (cs ConnectionString) Host() string {
	h, _ := endpointHost(cs.Endpoint)
	return h
}

// Namespace returns the namespace (or alias) name: the first label of the endpoint host, so
// "sb://ns1.servicebus.windows.net/", "sb://ns1.localhost:5671/" and "sb://ns1/" all give "ns1".
func (cs ConnectionString) Namespace() string {
	h := cs.Host()
	name, _, _ := strings.Cut(h, ".")
	return name
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
