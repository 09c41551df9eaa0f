// Package eventbody is the JSON form of event bodies that the HTTP API and its Go client
// share. On send and on receive alike:
//
//   - "body" a JSON string: the event's bytes are the string's content;
//   - "body" any other JSON value (object, array, number, true, false, null): the event's
//     bytes are exactly that value's bytes as sent;
//   - "bodyEncoding":"base64" with a string body: the bytes are the decoded string.
//
// So Encode answers a body that is compact JSON (not itself a JSON string) as that JSON
// value, other UTF-8 text as a string, and anything else in base64, and Decode inverts it.
// It owns nothing else of the API.
package eventbody

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Base64 is the bodyEncoding value for bodies carried in base64.
const Base64 = "base64"

// Encode turns event bytes into a JSON body and its bodyEncoding ("" or Base64).
func Encode(b []byte) (json.RawMessage, string) {
	if len(b) > 0 && b[0] != '"' && json.Valid(b) {
		var buf bytes.Buffer
		if json.Compact(&buf, b) == nil && bytes.Equal(buf.Bytes(), b) {
			return b, ""
		}
	}
	if utf8.Valid(b) {
		s, _ := json.Marshal(string(b))
		return s, ""
	}
	s, _ := json.Marshal(base64.StdEncoding.EncodeToString(b))
	return s, Base64
}

// Decode turns a JSON body and its bodyEncoding back into event bytes. Errors say what is
// wrong with the body; callers add which event it was.
func Decode(raw json.RawMessage, encoding string) ([]byte, error) {
	if len(raw) == 0 {
		return nil, errors.New(`no "body"; an event looks like {"body": …, "partitionKey": "…", "properties": {…}}`)
	}
	switch strings.ToLower(encoding) {
	case "":
		if raw[0] != '"' {
			return bytes.Clone(raw), nil
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("body: %v", err)
		}
		return []byte(s), nil
	case Base64:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, errors.New(`bodyEncoding "base64" but the body is not a string`)
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("body is not valid base64: %v", err)
		}
		return b, nil
	}
	return nil, fmt.Errorf(`bodyEncoding %q is unknown; omit it or use "base64"`, encoding)
}
