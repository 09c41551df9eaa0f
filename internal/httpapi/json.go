package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/meta"
)

// maxManagementBody bounds a management request's body. A send's body has its own limit
// (DataLimits.MaxSendBytes).
const maxManagementBody = 1 << 20

// errorBody is the JSON form of every error response.
type errorBody struct {
	Error struct {
		Code    errcode.Code `json:"code"`
		Message string       `json:"message"`
	} `json:"error"`
}

// writeError writes err with its catalogue status and counts it.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	err = s.regionalNotFound(r, err)
	code := errcode.CodeOf(err)
	status := errcode.HTTPStatus(err)
	if r.ContentLength != 0 {
		// The body may be unread (refused before the handler read it). Go would read up to
		// 256 KiB of it, at whatever pace the client sends, before answering and again before
		// reusing the connection; answer now and close the connection instead.
		w.Header().Set("Connection", "close")
		http.NewResponseController(w).SetReadDeadline(time.Now())
	}
	if code == errcode.Unauthorized {
		w.Header().Add("WWW-Authenticate", `SharedAccessSignature realm="tandem"`)
		w.Header().Add("WWW-Authenticate", adminScheme+` realm="tandem"`)
	}
	if code == errcode.Internal {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	} else {
		s.log.Debug("request refused", "method", r.Method, "path", r.URL.Path, "code", code, "err", err)
	}
	s.b.RequestError("http", string(code))
	var body errorBody
	body.Error.Code = code
	body.Error.Message = err.Error()
	writeJSON(w, status, body)
}

// regionalNotFound turns the NotFound of a namespace into one that names the region that was
// asked (and the node, by the address the request used), so that a request sent to the wrong
// region of a geo-DR setup reads as such. When this region takes part in geo-DR it suggests
// no create (the namespace is likely in the other region); a lone region keeps the create
// hint. Other errors pass unchanged.
func (s *Server) regionalNotFound(r *http.Request, err error) error {
	var nf *meta.NamespaceNotFoundError
	if !errors.As(err, &nf) {
		return err
	}
	region := s.b.Region()
	asked := fmt.Sprintf("region %s (the node at %s that this request went to)", region, r.Host)
	if len(s.b.Aliases()) > 0 {
		return errcode.New(errcode.NotFound,
			"namespace %q is not in %s; this region takes part in geo-DR, so the namespace is likely in another region: "+
				"is --server (TANDEM_SERVER) pointing at the right region? 'tandem namespace list' lists the namespaces of region %s",
			nf.Name, asked, region)
	}
	return errcode.New(errcode.NotFound,
		"namespace %q not found in %s; if it is in another region, point --server (TANDEM_SERVER) at that region's node; "+
			"to create it in region %s: 'tandem namespace create %s'", nf.Name, asked, region, nf.Name)
}

// writeJSON writes v as JSON without HTML escaping, so raw event bodies keep their bytes.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		http.Error(w, `{"error":{"code":"Internal","message":"encoding the response failed"}}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// readBody reads r's body up to limit bytes; a larger body is a MessageTooLarge error.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, errcode.New(errcode.MessageTooLarge,
			"request body exceeds the limit of %d bytes; send fewer or smaller events per request", limit)
	}
	if err != nil {
		return nil, errcode.New(errcode.InvalidArgument, "reading the request body: %v", err)
	}
	return data, nil
}

// decodeBody reads a JSON body into v. An empty body leaves v unchanged when optional.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, optional bool) error {
	data, err := readBody(w, r, maxManagementBody)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		if optional {
			return nil
		}
		return errcode.New(errcode.InvalidArgument, "request body is empty; send a JSON object")
	}
	return unmarshal(data, v)
}

// unmarshal decodes data into v, turning JSON errors into InvalidArgument errors that name
// the field or the byte offset.
func unmarshal(data []byte, v any) error {
	return jsonError(json.Unmarshal(data, v))
}

// jsonError turns a JSON decoding error into an InvalidArgument error that names the field or
// the byte offset, and a body over its http.MaxBytesReader limit into MessageTooLarge.
func jsonError(err error) error {
	if err == nil {
		return nil
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return errcode.New(errcode.MessageTooLarge,
			"request body exceeds the limit of %d bytes; send fewer or smaller events per request", tooBig.Limit)
	case errors.As(err, &syn):
		return errcode.New(errcode.InvalidArgument, "request body is not valid JSON at byte offset %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "(top level)"
		}
		return errcode.New(errcode.InvalidArgument,
			"request body field %s must be %s, not a JSON %s (byte offset %d)", field, typeName(typ.Type.Kind().String()), typ.Value, typ.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errcode.New(errcode.InvalidArgument, "request body is truncated JSON")
	}
	return errcode.New(errcode.InvalidArgument, "request body: %v", err)
}

func typeName(kind string) string {
	switch kind {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float32", "float64":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	}
	return fmt.Sprintf("a %s", kind)
}
