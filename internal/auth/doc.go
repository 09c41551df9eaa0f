// Package auth implements Event Hubs' credentials exactly as Azure defines them: connection
// strings (Endpoint=sb://…;SharedAccessKeyName=…;SharedAccessKey=…[;EntityPath=…]), shared access
// signature (SAS) tokens signed with HMAC-SHA256, key generation, and the Manage/Send/Listen
// rights of a shared access policy.
//
// It owns only these pure formats and checks. It must not touch metadata, the network or the
// clock: callers pass the current time in, and look up policies and keys themselves (the policy
// store is internal/meta). Errors a user can see are internal/errcode errors.
package auth
