package amqp

import "github.com/tandem-streaming/tandem/internal/amqp/frames"

// decodeBody and appendFrame are the frames functions the engine uses, named once so the
// engine reads the same whichever way frames spells them.
var (
	decodeBody  = frames.Decode
	appendFrame = frames.Append
)
