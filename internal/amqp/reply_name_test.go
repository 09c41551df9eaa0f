package amqp

import (
	"testing"

	goamqp "github.com/Azure/go-amqp"
)

// TestReplyRoutingByLinkName: the JS SDK's $cbs receiver has no target address and is named
// after its reply-to (core-amqp cbs.js: {source: {address: "$cbs"}, name: replyTo}); replies
// reach it by that name.
func TestReplyRoutingByLinkName(t *testing.T) {
	h := newTestHandler()
	_, addr := startServer(t, Options{Handler: h})
	c := dial(t, addr, nil)
	ctx := testCtx(t)
	s := beginSession(t, c)
	rcv, err := s.NewReceiver(ctx, "rpc", &goamqp.ReceiverOptions{Name: "cbs-4a5c7212", Credit: 10})
	if err != nil {
		t.Fatal(err)
	}
	snd, err := s.NewSender(ctx, "rpc", nil)
	if err != nil {
		t.Fatal(err)
	}
	m := goamqp.NewMessage([]byte("put-token"))
	to := "cbs-4a5c7212"
	m.Properties = &goamqp.MessageProperties{ReplyTo: &to}
	if err := snd.Send(ctx, m, nil); err != nil {
		t.Fatal(err)
	}
	got, err := rcv.Receive(ctx, nil)
	if err != nil || string(got.GetData()) != "put-token" {
		t.Fatalf("reply to the link named %s: %v %q", to, err, got.GetData())
	}
}
