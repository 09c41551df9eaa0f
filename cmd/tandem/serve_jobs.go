package main

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/job"
)

// jobLimits are the serve flags that bound stream jobs.
type jobLimits struct {
	ReferenceMaxBytes int64 `yaml:"job-reference-max-bytes"`
	StateBudget       int64 `yaml:"job-state-budget"`
}

func (l *jobLimits) register(f *pflag.FlagSet) {
	f.Int64Var(&l.ReferenceMaxBytes, "job-reference-max-bytes", job.DefaultReferenceMaxBytes,
		"largest reference data file a stream job reads, in bytes (regular files only); a larger file fails the job")
	f.Int64Var(&l.StateBudget, "job-state-budget", job.DefaultStateBudget,
		"largest state a stream job may hold, in bytes (as its checkpoint measures it); a job over it fails instead of exhausting the node")
}

func (l jobLimits) options(b *broker.Broker, dataDir string, reg prometheus.Registerer) job.Options {
	return job.Options{Broker: b, DataDir: dataDir, Registerer: reg,
		ReferenceMaxBytes: l.ReferenceMaxBytes, StateBudget: l.StateBudget}
}
