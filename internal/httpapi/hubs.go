package httpapi

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/errcode"
)

// hubJSON is an event hub as ARM shapes it, with Tandem's size settings added.
type hubJSON struct {
	Name       string   `json:"name"`
	Type       string   `json:"type,omitempty"`
	Properties hubProps `json:"properties"`
}

type hubProps struct {
	PartitionCount         *int32          `json:"partitionCount,omitempty"`
	PartitionIDs           []string        `json:"partitionIds,omitempty"`
	MessageRetentionInDays *int64          `json:"messageRetentionInDays,omitempty"`
	RetentionTimeInHours   *int64          `json:"retentionTimeInHours,omitempty"`
	RetentionDescription   *retentionJSON  `json:"retentionDescription,omitempty"`
	RetentionBytes         *int64          `json:"retentionBytes,omitempty"`
	MaxEventBytes          *int32          `json:"maxEventBytes,omitempty"`
	Status                 string          `json:"status,omitempty"`
	ConsumerGroups         []string        `json:"consumerGroups,omitempty"`
	Partitions             []partitionJSON `json:"partitions,omitempty"` // in a cluster, on GET (cluster.go)
	CreatedAt              *time.Time      `json:"createdAt,omitempty"`
	UpdatedAt              *time.Time      `json:"updatedAt,omitempty"`
}

type retentionJSON struct {
	CleanupPolicy        string `json:"cleanupPolicy,omitempty"`
	RetentionTimeInHours *int64 `json:"retentionTimeInHours,omitempty"`
}

func hubOut(h broker.HubInfo) hubJSON {
	ids := make([]string, h.Partitions)
	for i := range ids {
		ids[i] = strconv.Itoa(i)
	}
	hours := int64(h.RetentionTime / time.Hour)
	days := (hours + 23) / 24
	created, updated := h.CreatedAt, h.UpdatedAt
	parts, rb, meb := h.Partitions, h.RetentionBytes, h.MaxEventBytes
	return hubJSON{
		Name: h.Name, Type: "Microsoft.EventHub/namespaces/eventhubs",
		Properties: hubProps{
			PartitionCount: &parts, PartitionIDs: ids, MessageRetentionInDays: &days,
			RetentionDescription: &retentionJSON{CleanupPolicy: "Delete", RetentionTimeInHours: &hours},
			RetentionBytes:       &rb, MaxEventBytes: &meb, Status: "Active",
			ConsumerGroups: h.ConsumerGroups, CreatedAt: &created, UpdatedAt: &updated,
		},
	}
}

// hubSpec turns a PUT body into a spec; fields the body omits stay zero (default or unchanged).
func hubSpec(name string, p hubProps) (broker.HubSpec, error) {
	spec := broker.HubSpec{Name: name}
	if p.PartitionCount != nil {
		if *p.PartitionCount < 1 {
			return spec, errcode.New(errcode.InvalidArgument,
				"properties.partitionCount %d is out of range; an event hub has 1 to 1024 partitions", *p.PartitionCount)
		}
		spec.Partitions = *p.PartitionCount
	}
	var hours []int64
	if p.MessageRetentionInDays != nil {
		hours = append(hours, *p.MessageRetentionInDays*24)
	}
	if p.RetentionTimeInHours != nil {
		hours = append(hours, *p.RetentionTimeInHours)
	}
	if p.RetentionDescription != nil && p.RetentionDescription.RetentionTimeInHours != nil {
		hours = append(hours, *p.RetentionDescription.RetentionTimeInHours)
	}
	for _, h := range hours {
		if h != hours[0] {
			return spec, errcode.New(errcode.InvalidArgument,
				"the body gives two different retention times (%dh and %dh); give one of messageRetentionInDays, retentionTimeInHours or retentionDescription.retentionTimeInHours", hours[0], h)
		}
	}
	if len(hours) > 0 {
		if hours[0] < 1 {
			return spec, errcode.New(errcode.InvalidArgument,
				"retention time %dh is out of range; use 1h to 2160h (90 days)", hours[0])
		}
		spec.RetentionTime = time.Duration(hours[0]) * time.Hour
	}
	if p.RetentionBytes != nil {
		spec.RetentionBytes = *p.RetentionBytes
	}
	if p.MaxEventBytes != nil {
		if *p.MaxEventBytes < 1 {
			return spec, errcode.New(errcode.InvalidArgument,
				"properties.maxEventBytes %d is out of range; use 1024 (1 KiB) to 20971520 (20 MiB)", *p.MaxEventBytes)
		}
		spec.MaxEventBytes = *p.MaxEventBytes
	}
	return spec, nil
}

func (s *Server) listHubs(w http.ResponseWriter, r *http.Request, c *call) error {
	if _, err := s.b.Namespace(c.ns); err != nil {
		return err
	}
	out := []hubJSON{}
	for _, h := range s.b.Hubs(c.ns) {
		out = append(out, hubOut(h))
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": out})
	return nil
}

// putHub creates the hub, or updates it when it exists (partitions may only grow). A credential
// scoped to one event hub may update that hub (as Event Hubs' entity-level Manage may) but
// never creates one: creating is managing the namespace.
func (s *Server) putHub(w http.ResponseWriter, r *http.Request, c *call) error {
	var in hubJSON
	if err := decodeBody(w, r, &in, true); err != nil {
		return err
	}
	if err := sameName("event hub", c.hub, in.Name); err != nil {
		return err
	}
	spec, err := hubSpec(c.hub, in.Properties)
	if err != nil {
		return err
	}
	h, status, err := s.createOrUpdateHub(r, c, spec)
	if err != nil {
		return err
	}
	writeJSON(w, status, hubOut(h))
	return nil
}

// createOrUpdateHub answers with the hub as its own create or update left it. When a racing
// create or delete makes the chosen write fail (AlreadyExists, NotFound), it tries the other,
// a bounded number of times; the existence check first only picks the likely one.
//
// With If-None-Match: * (HTTP's "create only", which `tandem hub create` sends) it only
// creates: an existing hub is left as it is and the answer is AlreadyExists (409).
func (s *Server) createOrUpdateHub(r *http.Request, c *call, spec broker.HubSpec) (broker.HubInfo, int, error) {
	if strings.TrimSpace(r.Header.Get("If-None-Match")) == "*" {
		return s.createHubOnly(r, c, spec)
	}
	_, err := s.b.Hub(c.ns, c.hub)
	create := errcode.Is(err, errcode.NotFound)
	if err != nil && !create {
		return broker.HubInfo{}, 0, err
	}
	return createOrUpdate(create, func(create bool) (broker.HubInfo, error) {
		if create && c.who.EntityPath != "" {
			return broker.HubInfo{}, hubScopedCreate(c)
		}
		if create {
			return s.b.CreateHubInfo(r.Context(), c.ns, spec)
		}
		return s.b.UpdateHubInfo(r.Context(), c.ns, spec)
	}, func() bool { return s.nsExists(c.ns) }, "event hub "+c.ns+"/"+c.hub)
}

// createOrUpdate is PUT's loop: write (create or update) and, when a racing create or delete
// made it fail with nothing changed (AlreadyExists to a create, NotFound to an update of a
// namespace that exists), try the other, up to maxPutRetries times. When every try lost its
// race it answers Unavailable (nothing changed, retry), never the last try's NotFound or
// AlreadyExists: PUT creates or updates, it does not report a state it was racing with.
func createOrUpdate(create bool, write func(create bool) (broker.HubInfo, error), nsExists func() bool, what string) (broker.HubInfo, int, error) {
	for attempt := 0; ; attempt++ {
		status := http.StatusOK
		if create {
			status = http.StatusCreated
		}
		h, err := write(create)
		raced := (create && errcode.Is(err, errcode.AlreadyExists)) || (!create && errcode.Is(err, errcode.NotFound) && nsExists())
		if !raced {
			return h, status, err
		}
		if attempt >= maxPutRetries {
			return broker.HubInfo{}, 0, errcode.New(errcode.Unavailable,
				"%s was created or deleted by other requests %d times while this PUT ran, and nothing was changed: retry (%w)",
				what, attempt+1, err)
		}
		create = !create
	}
}

// createHubOnly is PUT with If-None-Match: *: create the hub, or fail naming hub update.
func (s *Server) createHubOnly(r *http.Request, c *call, spec broker.HubSpec) (broker.HubInfo, int, error) {
	if _, err := s.b.Hub(c.ns, c.hub); err == nil {
		return broker.HubInfo{}, 0, hubExists(c)
	} else if !errcode.Is(err, errcode.NotFound) {
		return broker.HubInfo{}, 0, err
	}
	if c.who.EntityPath != "" {
		return broker.HubInfo{}, 0, hubScopedCreate(c)
	}
	h, err := s.b.CreateHubInfo(r.Context(), c.ns, spec)
	if errcode.Is(err, errcode.AlreadyExists) {
		return broker.HubInfo{}, 0, hubExists(c)
	}
	return h, http.StatusCreated, err
}

func hubExists(c *call) error {
	return errcode.New(errcode.AlreadyExists,
		"event hub %s/%s already exists and was left unchanged (the create asked for a new hub with If-None-Match: *); "+
			"change it with 'tandem hub update %s/%s' (or a PUT without If-None-Match), or delete it first with 'tandem hub delete %s/%s'",
		c.ns, c.hub, c.ns, c.hub, c.ns, c.hub)
}

func hubScopedCreate(c *call) error {
	return errcode.New(errcode.Forbidden,
		"event hub %s/%s does not exist, and rule %q is scoped to event hub %q: a hub-scoped credential cannot create event hubs; use a namespace rule with Manage",
		c.ns, c.hub, c.who.KeyName, c.who.EntityPath)
}

// maxPutRetries bounds how often a PUT switches between create and update under races.
const maxPutRetries = 8

// nsExists reports whether namespace ns exists (a NotFound for it is not a racing hub delete).
func (s *Server) nsExists(ns string) bool {
	_, err := s.b.Namespace(ns)
	return err == nil
}

func (s *Server) getHub(w http.ResponseWriter, r *http.Request, c *call) error {
	h, err := s.b.Hub(c.ns, c.hub)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, hubOut(h))
	return nil
}

func (s *Server) deleteHub(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := s.b.DeleteHub(r.Context(), c.ns, c.hub); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// groupJSON is a consumer group as ARM shapes it.
type groupJSON struct {
	Name       string     `json:"name"`
	Type       string     `json:"type,omitempty"`
	Properties groupProps `json:"properties"`
}

type groupProps struct {
	UserMetadata string     `json:"userMetadata,omitempty"`
	CreatedAt    *time.Time `json:"createdAt,omitempty"`
	UpdatedAt    *time.Time `json:"updatedAt,omitempty"`
}

func groupOut(g broker.ConsumerGroupInfo) groupJSON {
	created := g.CreatedAt
	return groupJSON{Name: g.Name, Type: "Microsoft.EventHub/namespaces/eventhubs/consumergroups",
		Properties: groupProps{UserMetadata: g.UserMetadata, CreatedAt: &created, UpdatedAt: &created}}
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request, c *call) error {
	gs, err := s.b.ConsumerGroups(c.ns, c.hub)
	if err != nil {
		return err
	}
	out := []groupJSON{}
	for _, g := range gs {
		out = append(out, groupOut(g))
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": out})
	return nil
}

// putGroup creates a consumer group. PUT is idempotent: the same group again answers 200;
// a different userMetadata is a conflict, since groups cannot be updated.
func (s *Server) putGroup(w http.ResponseWriter, r *http.Request, c *call) error {
	var in groupJSON
	if err := decodeBody(w, r, &in, true); err != nil {
		return err
	}
	name := r.PathValue("group")
	if err := sameName("consumer group", name, in.Name); err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		g, err := s.b.CreateConsumerGroup(r.Context(), c.ns, c.hub, name, in.Properties.UserMetadata)
		if err == nil {
			writeJSON(w, http.StatusCreated, groupOut(g))
			return nil
		}
		if !errcode.Is(err, errcode.AlreadyExists) {
			return err
		}
		// Nothing was written: answer with the group as it is now, or create again if a
		// racing delete removed it since.
		cur, gerr := s.b.ConsumerGroup(c.ns, c.hub, name)
		if errcode.Is(gerr, errcode.NotFound) && attempt < maxPutRetries {
			continue
		}
		if errcode.Is(gerr, errcode.NotFound) {
			if _, herr := s.b.Hub(c.ns, c.hub); herr == nil {
				// Every try lost a race with creates and deletes of this group: nothing was
				// changed, and a PUT never answers that the group it creates is missing.
				return errcode.New(errcode.Unavailable,
					"consumer group %s of %s/%s was created or deleted by other requests %d times while this PUT ran, and nothing was changed: retry",
					name, c.ns, c.hub, maxPutRetries+1)
			}
		}
		if gerr != nil {
			return gerr
		}
		if cur.UserMetadata != in.Properties.UserMetadata {
			return errcode.New(errcode.Conflict,
				"consumer group %s of %s/%s exists with other userMetadata; consumer groups cannot be updated, delete and create it again", name, c.ns, c.hub)
		}
		writeJSON(w, http.StatusOK, groupOut(cur))
		return nil
	}
}

func (s *Server) getGroup(w http.ResponseWriter, r *http.Request, c *call) error {
	g, err := s.b.ConsumerGroup(c.ns, c.hub, r.PathValue("group"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, groupOut(g))
	return nil
}

func (s *Server) deleteGroup(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := s.b.DeleteConsumerGroup(r.Context(), c.ns, c.hub, r.PathValue("group")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}
