package httpapi

import (
	"net/http"

	"github.com/tandem-streaming/tandem/internal/job"
)

// Stream jobs: a region's own resources, managed with the node admin key. In --dev an anonymous
// caller may manage jobs too, but only its own: a job it creates is confined (job.Creator): its
// files only under <data>/job-files, its event hubs only in the dev namespace and its
// PostgreSQL servers only on loopback, so anonymous access does not become access to every
// file and host the server can reach; and the jobs created with the admin key read as absent
// to it (404, as for a job that does not exist). Every answer shows sink URLs with their
// passwords as ***.

func (s *Server) jobRoutes() {
	s.handle("GET /jobs", needAdminOrDev, s.listJobs)
	s.handle("PUT /jobs/{job}", needAdminOrDev, s.putJob)
	s.handle("GET /jobs/{job}", needAdminOrDev, s.getJob)
	s.handle("DELETE /jobs/{job}", needAdminOrDev, s.deleteJob)
	s.handle("POST /jobs/{job}/start", needAdminOrDev, s.startJob)
	s.handle("POST /jobs/{job}/stop", needAdminOrDev, s.stopJob)
}

// jobCaller is who calls, as the job manager bounds it: the admin, or in --dev an anonymous
// caller confined to its own jobs.
func jobCaller(c *call) job.Creator {
	if c.who.anonymous {
		return job.Creator{Confined: true, Namespace: c.who.Namespace}
	}
	return job.Admin
}

func (s *Server) listJobs(w http.ResponseWriter, r *http.Request, c *call) error {
	writeJSON(w, http.StatusOK, map[string]any{"value": s.jobs.List(jobCaller(c))})
	return nil
}

func (s *Server) putJob(w http.ResponseWriter, r *http.Request, c *call) error {
	var spec job.Spec
	if err := decodeBody(w, r, &spec, false); err != nil {
		return err
	}
	if spec.Name == "" {
		spec.Name = r.PathValue("job")
	}
	if err := sameName("job", r.PathValue("job"), spec.Name); err != nil {
		return err
	}
	info, err := s.jobs.Create(r.Context(), spec, jobCaller(c))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, info)
	return nil
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request, c *call) error {
	info, err := s.jobs.Get(r.PathValue("job"), jobCaller(c))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, info)
	return nil
}

func (s *Server) deleteJob(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := s.jobs.Delete(r.Context(), r.PathValue("job"), jobCaller(c)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// startRequest is the body of POST /jobs/{job}/start.
type startRequest struct {
	From string `json:"from"` // now, start, last-stopped or time:RFC3339
}

func (s *Server) startJob(w http.ResponseWriter, r *http.Request, c *call) error {
	var in startRequest
	if err := decodeBody(w, r, &in, true); err != nil {
		return err
	}
	info, err := s.jobs.StartJob(r.Context(), r.PathValue("job"), in.From, jobCaller(c))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, info)
	return nil
}

func (s *Server) stopJob(w http.ResponseWriter, r *http.Request, c *call) error {
	info, err := s.jobs.StopJob(r.Context(), r.PathValue("job"), jobCaller(c))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, info)
	return nil
}
