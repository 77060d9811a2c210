package scak

import "context"

// MaxTaskLen bounds the task name a Failure carries (TaskFrom cuts a
// longer one at a UTF-8 boundary).
const MaxTaskLen = 256

type taskKey struct{}

// WithTask returns ctx naming the task an agent works on. Syscalls made
// with it (or a context derived from it) are classified by the Monitor as
// failures of that task (Failure.Task), so that patches can be scoped to
// it: the kernel knows agents, not tasks, and this is how the code that
// gives an agent its task tells the monitor.
func WithTask(ctx context.Context, task string) context.Context {
	return context.WithValue(ctx, taskKey{}, task)
}

// TaskFrom returns the task WithTask put in ctx, at most MaxTaskLen bytes,
// or "".
func TaskFrom(ctx context.Context) string {
	if ctx == nil {
		return ""
	}
	t, _ := ctx.Value(taskKey{}).(string)
	return clipUTF8(t, MaxTaskLen)
}
