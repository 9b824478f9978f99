package etcd

import (
	"os"
	"strings"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// benign reports errors etcd logs in normal operation: the storage
// version monitor of a fresh single member runs once before the first term
// is written (and succeeds on its next round), and a clean shutdown
// reports its closed listeners as serving failures.
func benign(e zapcore.Entry, fields []zapcore.Field) bool {
	switch e.Message {
	case "failed to update storage version":
		return true
	case "setting up serving from embedded etcd failed.":
		for _, f := range fields {
			if err, ok := f.Interface.(error); ok && f.Key == "error" && strings.Contains(err.Error(), "closed") {
				return true
			}
		}
	}
	return false
}

type filteredCore struct {
	zapcore.Core
}

func (c filteredCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c filteredCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	if benign(e, fields) {
		return nil
	}
	return c.Core.Write(e, fields)
}

func (c filteredCore) With(fields []zapcore.Field) zapcore.Core {
	return filteredCore{c.Core.With(fields)}
}

// loggerBuilder logs etcd's messages at level and above as JSON on
// stderr, without the benign ones.
func loggerBuilder(level string) func(*embed.Config) error {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		lvl = zapcore.ErrorLevel
	}
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	core := filteredCore{zapcore.NewCore(enc, zapcore.Lock(os.Stderr), lvl)}
	return embed.NewZapLoggerBuilder(zap.New(core, zap.AddCaller()))
}
