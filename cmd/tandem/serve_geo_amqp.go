package main

// geoAMQP is the AMQP listener the partner region of a geo-DR alias forwards alias clients
// to (geodr.Options.AMQP, meta.Peer.AMQP): the plain listener as advertised, "" when AMQP is
// off. The front door dials it from the partner region, so it is the plain listener even
// when AMQPS is on.
func (l *listeners) geoAMQP(cfg serveConfig) string {
	if l.amqp == nil {
		return ""
	}
	return advertised(cfg, l.amqp.Addr())
}
