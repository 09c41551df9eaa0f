package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Reading Config.json with the place of every value: errors name where in the file they are
// (UserConfig.NamespaceConfig[0].Entities[1].PartitionCount), keys given twice are caught
// (encoding/json keeps the last silently), and keys match case-insensitively.

// object is a JSON object of the file with its place, for errors that say where they are.
type object struct {
	path   string
	fields map[string]json.RawMessage // keys as written
}

// objectAt parses data as a JSON object; a key given twice is an error.
func objectAt(path string, data []byte) (object, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	o := object{path: path, fields: map[string]json.RawMessage{}}
	tok, err := dec.Token()
	if err != nil {
		return object{}, invalid("%s is not valid JSON: %v", path, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return object{}, invalid("%s must be a JSON object {…}, not %s", path, kindOf(data))
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return object{}, invalid("%s is not valid JSON: %v", path, err)
		}
		key := tok.(string) // object keys are strings
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return object{}, invalid("%s.%s is not valid JSON: %v", path, key, err)
		}
		for k := range o.fields {
			if strings.EqualFold(k, key) {
				return object{}, invalid("%s has the key %q twice; give it once", path, key)
			}
		}
		o.fields[key] = v
	}
	if _, err := dec.Token(); err != nil {
		return object{}, invalid("%s is not valid JSON: %v", path, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return object{}, invalid("%s has more after its closing '}'", path)
	}
	return o, nil
}

// only checks that every key is one of known (ignoring case, which the emulator's .NET reader
// does too) and renames the keys to known's spelling.
func (o object) only(known ...string) error {
	for k, v := range o.fields {
		canon := ""
		for _, want := range known {
			if strings.EqualFold(k, want) {
				canon = want
			}
		}
		if canon == "" {
			where := o.path
			if where == "the file" {
				where = "the top level"
			}
			return invalid("%s has an unknown key %q; the keys there are %s", where, k, strings.Join(known, ", "))
		}
		if canon != k {
			delete(o.fields, k)
			o.fields[canon] = v
		}
	}
	return nil
}

func (o object) child(key string) string {
	if o.path == "the file" {
		return key
	}
	return o.path + "." + key
}

func (o object) get(key string, required bool) (json.RawMessage, bool, error) {
	v, ok := o.fields[key]
	if !ok || string(bytes.TrimSpace(v)) == "null" {
		if required {
			return nil, false, invalid("%s is missing; add it", o.child(key))
		}
		return nil, false, nil
	}
	return v, true, nil
}

func (o object) object(key string, required bool) (object, error) {
	v, ok, err := o.get(key, required)
	if !ok {
		return object{path: o.child(key)}, err
	}
	return objectAt(o.child(key), v)
}

func (o object) array(key string, required bool) ([]object, error) {
	v, ok, err := o.get(key, required)
	if !ok {
		return nil, err
	}
	var items []json.RawMessage
	if err := json.Unmarshal(v, &items); err != nil {
		return nil, invalid("%s must be an array […], not %s", o.child(key), kindOf(v))
	}
	out := make([]object, 0, len(items))
	for i, it := range items {
		item, err := objectAt(fmt.Sprintf("%s[%d]", o.child(key), i), it)
		if err != nil {
			return nil, err
		}
		out = append(out, item)
	}
	return out, nil
}

func (o object) str(key string, required bool) (string, error) {
	v, ok, err := o.get(key, required)
	if !ok {
		return "", err
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", invalid("%s must be a string, not %s", o.child(key), kindOf(v))
	}
	return s, nil
}

func (o object) boolean(key string) (bool, error) {
	v, ok, err := o.get(key, false)
	if !ok {
		return false, err
	}
	var b bool
	if err := json.Unmarshal(v, &b); err != nil {
		return false, invalid("%s must be true or false, not %s", o.child(key), kindOf(v))
	}
	return b, nil
}

// integer reads a required whole number, written as a JSON number or, as the emulator's own
// samples sometimes do ("PartitionCount": "2"), as a string of digits.
func (o object) integer(key string) (int64, error) {
	v, _, err := o.get(key, true)
	if err != nil {
		return 0, err
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		s = string(bytes.TrimSpace(v))
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, invalid("%s must be a whole number, not %s", o.child(key), clip(string(v)))
	}
	return n, nil
}

// kindOf names the JSON kind of v for errors.
func kindOf(v []byte) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "nothing"
	}
	switch v[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "the number " + clip(string(v))
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
