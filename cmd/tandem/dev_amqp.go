package main

// The Azure Event Hubs SDKs' line of the tandem dev summary: a connection string for the AMQP
// listener of the region that holds the alias, in the emulator's form (plaintext AMQP with
// UseDevelopmentEmulator=true), so the SDKs connect unchanged.

import (
	"github.com/tandem-streaming/tandem/internal/auth"
)

// amqpConnString is the SDKs' connection string for the active region's AMQP listener, with
// the alias's key; "" when that region has no AMQP listener or the alias string is unusable.
func (info *devInfo) amqpConnString() string {
	c := info.sides[info.active].child
	if c.amqpAddr == "" || c.amqpAddr == "off" {
		return ""
	}
	cs, err := auth.ParseConnectionString(info.connString)
	if err != nil || cs.SharedAccessKey == "" {
		return ""
	}
	return emulatorConnString(c.amqpAddr, cs.SharedAccessKeyName, cs.SharedAccessKey)
}

// emulatorConnString is an Event Hubs connection string for the AMQP listener at addr in the
// form the SDKs take for a local emulator: "true" in lower case, since the JS SDK compares it
// exactly.
func emulatorConnString(addr, keyName, key string) string {
	return auth.ConnectionString{Endpoint: "sb://" + addr + "/", SharedAccessKeyName: keyName, SharedAccessKey: key}.String() +
		";UseDevelopmentEmulator=true"
}
