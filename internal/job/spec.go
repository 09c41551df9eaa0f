package job

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/sqlval"
	"github.com/tandem-streaming/tandem/internal/stream"
)

// Spec is a job's definition: what the user creates.
type Spec struct {
	Name    string       `json:"name"`
	Query   string       `json:"query"`
	Inputs  []InputSpec  `json:"inputs"`
	Outputs []OutputSpec `json:"outputs"`

	// Event ordering, as Stream Analytics' "Event ordering" settings. Durations are Go
	// durations ("0s", "5s", "2m"); empty means the default (0 s out of order, 5 s late).
	OutOfOrderTolerance  string `json:"outOfOrderTolerance,omitempty"`
	LateArrivalTolerance string `json:"lateArrivalTolerance,omitempty"`
	Policy               string `json:"policy,omitempty"` // "adjust" (default) or "drop"

	// StateBudgetBytes lowers the node's --job-state-budget for this job: the job fails when
	// its state (as its checkpoint measures it) grows past it. 0 means the node's budget.
	StateBudgetBytes int64 `json:"stateBudgetBytes,omitempty"`
}

// InputSpec is one input: an event hub of this region, or reference data in a file.
type InputSpec struct {
	Name          string `json:"name"`
	Namespace     string `json:"namespace,omitempty"`
	Hub           string `json:"hub,omitempty"`
	ConsumerGroup string `json:"consumerGroup,omitempty"` // default $Default
	Reference     string `json:"reference,omitempty"`     // path of a JSON/JSON-lines/CSV file
	// Serialization of event bodies: json (default: one JSON object per event) or csv (a header
	// line and one or more rows per event, each row an event).
	Serialization string `json:"serialization,omitempty"`
	// DualWrite marks an input fed by a dual-write producer (client/dualwrite): events are
	// de-duplicated by their event id within DedupWindow, their arrival time is the producer's
	// stamp, and idle partitions advance with the producer's heartbeats rather than the wall
	// clock (see dualwrite.go). This is what makes two regions' outputs identical.
	DualWrite   bool   `json:"dualWrite,omitempty"`
	DedupWindow string `json:"dedupWindow,omitempty"` // a Go duration; default 2m
}

// OutputSpec is one output: a sink URL (internal/sink).
type OutputSpec struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

var jobName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$`)

// ParseInput reads NAME=NS/HUB[/GROUP], the CLI's --input form.
func ParseInput(s string) (InputSpec, error) {
	name, target, ok := strings.Cut(s, "=")
	parts := strings.Split(target, "/")
	if !ok || name == "" || len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return InputSpec{}, errcode.New(errcode.InvalidArgument, "input %q: write NAME=NAMESPACE/HUB or NAME=NAMESPACE/HUB/CONSUMERGROUP", s)
	}
	in := InputSpec{Name: name, Namespace: parts[0], Hub: parts[1]}
	if len(parts) == 3 {
		in.ConsumerGroup = parts[2]
	}
	return in, nil
}

// ParseOutput reads NAME=URL, the CLI's --output form.
func ParseOutput(s string) (OutputSpec, error) {
	name, url, ok := strings.Cut(s, "=")
	if !ok || name == "" || url == "" {
		return OutputSpec{}, errcode.New(errcode.InvalidArgument, "output %q: write NAME=URL, e.g. alerts=sqlite:///var/lib/tandem/out.db", s)
	}
	return OutputSpec{Name: name, URL: url}, nil
}

// options turns the ordering settings into engine options.
func (s Spec) options() (stream.Options, error) {
	var o stream.Options
	var err error
	if o.OutOfOrder, err = tolerance("outOfOrderTolerance", s.OutOfOrderTolerance); err != nil {
		return o, err
	}
	if o.LateArrival, err = tolerance("lateArrivalTolerance", s.LateArrivalTolerance); err != nil {
		return o, err
	}
	switch strings.ToLower(s.Policy) {
	case "", "adjust":
	case "drop":
		o.Policy = stream.Drop
	default:
		return o, errcode.New(errcode.InvalidArgument, "policy %q: use adjust or drop", s.Policy)
	}
	return o, nil
}

func tolerance(field, v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, errcode.New(errcode.InvalidArgument, "%s %q: write a duration such as 0s, 10s or 2m", field, v)
	}
	if d == 0 {
		return -1, nil // an explicit zero (the engine's zero value means the default)
	}
	return d, nil
}

// validate checks the spec against its query: every stream input the query reads is an event
// hub input, every reference input a file, every output the query writes has a sink, and
// every file and event hub is open to the job's creator (checkAccess).
func (s Spec) validate(a access) (*stream.Engine, error) { return s.compile(nil, a) }

// compile checks the spec (see validate), loads its reference data once and compiles the query
// with the stream inputs' partitions.
func (s Spec) compile(partitions map[string][]int32, a access) (*stream.Engine, error) {
	if !jobName.MatchString(s.Name) {
		return nil, errcode.New(errcode.InvalidArgument, "job name %q: use 1-63 letters, digits, '-' or '_', starting with a letter or digit", s.Name)
	}
	if strings.TrimSpace(s.Query) == "" {
		return nil, errcode.New(errcode.InvalidArgument, "job %s has no query; pass --query-file", s.Name)
	}
	opts, err := s.options()
	if err != nil {
		return nil, err
	}
	refs, err := s.checkAccess(a)
	if err != nil {
		return nil, err
	}
	for _, in := range s.Inputs {
		if ser := strings.ToLower(in.Serialization); ser != "" && ser != "json" && ser != "csv" {
			return nil, errcode.New(errcode.InvalidArgument, "input %s: serialization %q: use json or csv", in.Name, in.Serialization)
		}
		if _, err := in.dedupWindow(); err != nil {
			return nil, err
		}
		if in.Reference != "" {
			path, ok := refs[strings.ToLower(in.Name)]
			if !ok {
				path = in.Reference // a table
			}
			rows, err := readReference(path, a.refMax)
			if err != nil {
				code := errcode.CodeOf(err)
				if code == errcode.Internal {
					code = errcode.InvalidArgument
				}
				return nil, errcode.New(code, "reference input %s: %v", in.Name, err)
			}
			if opts.Reference == nil {
				opts.Reference = map[string][]sqlval.Value{}
			}
			opts.Reference[in.Name] = rows
		}
	}
	opts.Partitions = partitions
	e, err := stream.Compile(s.Query, opts)
	if err != nil {
		return nil, errcode.New(errcode.InvalidArgument, "job %s: query: %v", s.Name, err)
	}
	for _, qi := range e.Inputs() {
		in, ok := s.input(qi.Name)
		switch {
		case !ok:
			return nil, errcode.New(errcode.InvalidArgument, "job %s: the query reads %s but the job has no such input; add --input %s=NAMESPACE/HUB", s.Name, qi.Name, qi.Name)
		case !qi.Reference && in.Reference != "":
			return nil, errcode.New(errcode.InvalidArgument, "job %s: input %s is read as a stream, but it is reference data", s.Name, qi.Name)
		}
	}
	for _, o := range e.Outputs() {
		if _, ok := s.output(o); !ok {
			return nil, errcode.New(errcode.InvalidArgument, "job %s: the query writes %s but the job has no such output; add --output %s=URL", s.Name, o, o)
		}
	}
	return e, nil
}

func (s Spec) input(name string) (InputSpec, bool) {
	for _, in := range s.Inputs {
		if strings.EqualFold(in.Name, name) {
			return in, true
		}
	}
	return InputSpec{}, false
}

func (s Spec) output(name string) (OutputSpec, bool) {
	for _, o := range s.Outputs {
		if strings.EqualFold(o.Name, name) {
			return o, true
		}
	}
	return OutputSpec{}, false
}

func (in InputSpec) group() string {
	if in.ConsumerGroup == "" {
		return "$Default"
	}
	return in.ConsumerGroup
}

// dedupWindow is the input's de-duplication window; an error when it is set on an input that
// is not dual-write or is not a positive duration.
func (in InputSpec) dedupWindow() (time.Duration, error) {
	switch {
	case in.DedupWindow == "":
		return DefaultDedupWindow, nil
	case !in.DualWrite || in.Reference != "":
		return 0, errcode.New(errcode.InvalidArgument, "input %s: a de-duplication window applies to a dual-write event hub input; add --dual-write %s or drop the window", in.Name, in.Name)
	}
	d, err := time.ParseDuration(in.DedupWindow)
	if err != nil || d <= 0 {
		return 0, errcode.New(errcode.InvalidArgument, "input %s: de-duplication window %q: write a positive duration such as 2m", in.Name, in.DedupWindow)
	}
	return d, nil
}

func (in InputSpec) String() string {
	if in.Reference != "" {
		return fmt.Sprintf("%s=ref:%s", in.Name, in.Reference)
	}
	s := fmt.Sprintf("%s=%s/%s/%s", in.Name, in.Namespace, in.Hub, in.group())
	if in.DualWrite {
		s += " (dual-write)"
	}
	return s
}
