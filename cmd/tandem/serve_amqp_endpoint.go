package main

// amqpEndpoint is the host:port clients reach this node's plain AMQP listener at, "" without
// one: it goes to broker.Options.AMQPAddr, so GET /cluster reports it (and, in a cluster, the
// metadata records it with the node's other endpoints) and `tandem connection-string --amqp`
// prints Endpoint=sb://<it>/;…;UseDevelopmentEmulator=true.
func (l *listeners) amqpEndpoint(cfg serveConfig) string {
	if l.amqp == nil {
		return ""
	}
	return advertised(cfg, l.amqp.Addr())
}
