package platform

import (
	"context"
	"io"
	"log/slog"
	"strings"
)

type loggerKey struct{}

// NewLogger returns a JSON logger at the named level (debug, info, warn, error; default info),
// tagged with the function's service name so lines from `orange dev` can be told apart.
func NewLogger(w io.Writer, level, service string) *slog.Logger {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		lvl = slog.LevelInfo
	}
	logger := slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lvl}))
	if service != "" {
		logger = logger.With(slog.String("service", service))
	}
	return logger
}

// WithLogger stores logger in ctx.
func WithLogger(ctx context.Context, logger *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, logger)
}

// LoggerFrom returns the logger stored in ctx, or slog's default.
func LoggerFrom(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}
