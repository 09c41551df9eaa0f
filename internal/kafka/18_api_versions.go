package kafka

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ApiVersions: v0-3
//
// Lists every key this server handles with its version range. A request at a version above
// ours is answered at v0 with UNSUPPORTED_VERSION and our range (KIP-511), so clients retry.

func init() { register(18, 0, 3) }

func (c *conn) handleApiVersions(req *kmsg.ApiVersionsRequest, unsupported bool) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
	if unsupported {
		resp.ErrorCode = kerr.UnsupportedVersion.Code
	}
	for _, key := range sortedKeys() {
		lo, hi, _ := supported(key)
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MinVersion, k.MaxVersion = key, lo, hi
		resp.ApiKeys = append(resp.ApiKeys, k)
	}
	return resp
}
