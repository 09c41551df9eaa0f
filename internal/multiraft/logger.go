package multiraft

import (
	"context"
	"fmt"
	"log/slog"
)

// slogRaftLogger routes etcd raft's logging to slog; raft's Info (elections,
// every term change) goes to Debug to keep thousands of groups quiet.
type slogRaftLogger struct{ l *slog.Logger }

func (s slogRaftLogger) log(level slog.Level, v ...any) {
	if s.l.Enabled(context.Background(), level) {
		s.l.Log(context.Background(), level, fmt.Sprint(v...), "from", "raft")
	}
}

func (s slogRaftLogger) logf(level slog.Level, format string, v ...any) {
	if s.l.Enabled(context.Background(), level) {
		s.l.Log(context.Background(), level, fmt.Sprintf(format, v...), "from", "raft")
	}
}

func (s slogRaftLogger) Debug(v ...any)              { s.log(slog.LevelDebug, v...) }
func (s slogRaftLogger) Debugf(f string, v ...any)   { s.logf(slog.LevelDebug, f, v...) }
func (s slogRaftLogger) Info(v ...any)               { s.log(slog.LevelDebug, v...) }
func (s slogRaftLogger) Infof(f string, v ...any)    { s.logf(slog.LevelDebug, f, v...) }
func (s slogRaftLogger) Warning(v ...any)            { s.log(slog.LevelWarn, v...) }
func (s slogRaftLogger) Warningf(f string, v ...any) { s.logf(slog.LevelWarn, f, v...) }
func (s slogRaftLogger) Error(v ...any)              { s.log(slog.LevelError, v...) }
func (s slogRaftLogger) Errorf(f string, v ...any)   { s.logf(slog.LevelError, f, v...) }
func (s slogRaftLogger) Fatal(v ...any)              { s.Panic(v...) }
func (s slogRaftLogger) Fatalf(f string, v ...any)   { s.Panicf(f, v...) }
func (s slogRaftLogger) Panic(v ...any)              { s.log(slog.LevelError, v...); panic(fmt.Sprint(v...)) }
func (s slogRaftLogger) Panicf(f string, v ...any) {
	s.logf(slog.LevelError, f, v...)
	panic(fmt.Sprintf(f, v...))
}
