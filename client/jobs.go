package client

import (
	"context"
	"net/http"

	"github.com/tandem-streaming/tandem/internal/job"
)

// Stream jobs: Stream Analytics-style queries that run inside a region on its event hubs and
// write to sinks. Managing them needs the node admin key.

// Job definitions and status, as the server defines them.
type (
	JobSpec       = job.Spec
	JobInput      = job.InputSpec
	JobOutput     = job.OutputSpec
	JobInfo       = job.Info
	JobStatus     = job.Status
	JobState      = job.State
	jobStartInput struct {
		From string `json:"from,omitempty"`
	}
)

func jobPath(name string) string { return "/jobs/" + esc(name) }

// CreateJob stores a new job, stopped. The server checks the query, that every input and output
// it names is given, and that the input hubs exist.
func (c *Client) CreateJob(ctx context.Context, spec JobSpec) (JobInfo, error) {
	var out JobInfo
	err := c.do(ctx, http.MethodPut, jobPath(spec.Name), spec, &out)
	return out, err
}

// StartJob starts a job from now, start, last-stopped or time:RFC3339 ("" is now).
func (c *Client) StartJob(ctx context.Context, name, from string) (JobInfo, error) {
	var out JobInfo
	err := c.do(ctx, http.MethodPost, jobPath(name)+"/start", jobStartInput{From: from}, &out)
	return out, err
}

// StopJob stops a job after it has written its rows and a checkpoint.
func (c *Client) StopJob(ctx context.Context, name string) (JobInfo, error) {
	var out JobInfo
	err := c.do(ctx, http.MethodPost, jobPath(name)+"/stop", nil, &out)
	return out, err
}

// GetJob returns a job's definition and live status.
func (c *Client) GetJob(ctx context.Context, name string) (JobInfo, error) {
	var out JobInfo
	err := c.do(ctx, http.MethodGet, jobPath(name), nil, &out)
	return out, err
}

// ListJobs lists the region's jobs.
func (c *Client) ListJobs(ctx context.Context) ([]JobInfo, error) {
	var out list[JobInfo]
	err := c.do(ctx, http.MethodGet, "/jobs", nil, &out)
	return out.Value, err
}

// DeleteJob stops and deletes a job; its outputs are kept.
func (c *Client) DeleteJob(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, jobPath(name), nil, nil)
}
