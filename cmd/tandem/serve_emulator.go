package main

import (
	"context"
	"log/slog"

	"github.com/spf13/pflag"

	"github.com/tandem-streaming/tandem/internal/broker"
	"github.com/tandem-streaming/tandem/internal/emulator"
)

// emulatorFlags is serve's --emulator-config: the Azure Event Hubs emulator's Config.json,
// whose namespaces, event hubs and consumer groups the node creates at start when missing
// (internal/emulator).
type emulatorFlags struct {
	File string `yaml:"emulator-config"`
}

func (e *emulatorFlags) register(f *pflag.FlagSet) {
	f.StringVar(&e.File, "emulator-config", "",
		"the Event Hubs emulator's Config.json: create its namespaces, event hubs (with their partition counts) and consumer groups at start when missing; "+
			"existing ones are kept, a hub with fewer partitions grows, one with more is an error")
}

// load reads and checks the file before anything starts (nil when no file is given), so a
// mistake in it stops serve with the place in the file named.
func (e emulatorFlags) load() (*emulator.Config, error) {
	if e.File == "" {
		return nil, nil
	}
	cfg, err := emulator.Load(e.File)
	if err != nil {
		return nil, err
	}
	return &cfg, nil
}

// prepare loads the file (nil without one) before anything starts and, when the file declares
// exactly one namespace and --amqp-default-namespace is not given, makes that namespace the
// AMQP listener's default: the emulator's connection strings (Endpoint=sb://localhost, key
// SAS_KEY_VALUE) name no namespace, and their EntityPath is a hub of the file's namespace.
func (e emulatorFlags) prepare(cfg *serveConfig) (*emulator.Config, error) {
	emu, err := e.load()
	if err != nil {
		return nil, err
	}
	if cfg.AMQP.DefaultNamespace == "" {
		cfg.AMQP.DefaultNamespace = emulatorDefaultNamespace(emu)
	}
	return emu, nil
}

// applyEmulatorConfig creates in b what cfg declares and b lacks, and logs each change; nil cfg does nothing.
func applyEmulatorConfig(ctx context.Context, b *broker.Broker, cfg *emulator.Config, log *slog.Logger) error {
	if cfg == nil {
		return nil
	}
	done, err := emulator.ApplyActions(ctx, b, *cfg)
	for _, a := range done {
		log.Info("emulator config: " + a.String())
	}
	if err == nil && len(done) == 0 {
		log.Info("emulator config: every namespace, event hub and consumer group exists already")
	}
	return err
}

// defaultNamespace is the namespace AMQP connections that name none (the emulator's
// Endpoint=sb://localhost strings with its placeholder key) act in: the file's namespace when
// it declares exactly one, else "".
func emulatorDefaultNamespace(cfg *emulator.Config) string {
	if cfg == nil || len(cfg.Namespaces) != 1 {
		return ""
	}
	return cfg.Namespaces[0].Name
}
