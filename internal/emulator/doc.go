// Package emulator reads the Azure Event Hubs emulator's configuration file (Config.json) and
// creates what it declares in a Tandem broker, so a project that runs the emulator in Docker
// can point `tandem serve --emulator-config Config.json` at the same file.
//
// The file's shape is the emulator's (EventHub-Emulator/Schema/Config-schema.json in
// github.com/Azure/azure-event-hubs-emulator-installer):
//
//	{"UserConfig": {
//	  "NamespaceConfig": [{"Type": "EventHub", "Name": "emulatorNs1",
//	    "Entities": [{"Name": "eh1", "PartitionCount": 2, "ConsumerGroups": [{"Name": "cg1"}]}]}],
//	  "LoggingConfig": {"Type": "File"}}}
//
// Load parses and validates it (unknown keys, types, ranges and duplicate names are errors
// that name the place in the file); Plan compares it with what a broker holds and lists the
// changes (a pure function); Apply makes them. Applying is idempotent: entities that exist
// are kept with their events, so a restart with the same file changes nothing (the emulator,
// by contrast, starts empty every time).
//
// Differences from the emulator, on purpose:
//   - no caps: any number of namespaces and hubs, 1 to 1024 partitions, any number of consumer
//     groups, and any namespace name Event Hubs accepts (the emulator allows one namespace
//     named emulatorNs1, 10 hubs, 32 partitions, 20 groups). A file that sets the Tandem key
//     "EmulatorLimits": true in UserConfig gets the emulator's caps checked (the emulator
//     ignores keys it does not know).
//   - a hub that exists with fewer partitions than the file says is grown to the file's count
//     (Tandem grows hubs online; keys then map to other partitions); one with more is an
//     error, since partitions cannot be removed.
//   - LoggingConfig is checked and ignored: Tandem logs to stderr.
//
// The package owns none of the broker's state and touches it only through *broker.Broker's
// management methods.
package emulator
