package ipc_test

import (
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/ipc"
)

type box[T any] struct{ V T }
type pair[A, B any] struct{}

func TestTypeName(t *testing.T) {
	type local struct{}
	tests := []struct {
		got, want string
	}{
		{ipc.TypeName[doc](), "ipc_test.doc"},
		{ipc.TypeName[local](), "ipc_test.local"},
		{ipc.TypeName[agentos.Action](), "agentos.Action"},
		{ipc.TypeName[time.Duration](), "time.Duration"},
		{ipc.TypeName[int](), "int"},
		{ipc.TypeName[string](), "string"},
		{ipc.TypeName[byte](), "uint8"},
		{ipc.TypeName[rune](), "int32"},
		{ipc.TypeName[error](), "error"},
		{ipc.TypeName[any](), "any"},
		{ipc.TypeName[interface{}](), "any"},
		{ipc.TypeName[io.Reader](), "io.Reader"},
		{ipc.TypeName[fmt.Stringer](), "fmt.Stringer"},
		{ipc.TypeName[*doc](), "*ipc_test.doc"},
		{ipc.TypeName[**int](), "**int"},
		{ipc.TypeName[[]doc](), "[]ipc_test.doc"},
		{ipc.TypeName[[]byte](), "[]uint8"},
		{ipc.TypeName[[4]int](), "[4]int"},
		{ipc.TypeName[map[string]*doc](), "map[string]*ipc_test.doc"},
		{ipc.TypeName[chan int](), "chan int"},
		{ipc.TypeName[<-chan doc](), "<-chan ipc_test.doc"},
		{ipc.TypeName[chan<- doc](), "chan<- ipc_test.doc"},
		{ipc.TypeName[chan (<-chan int)](), "chan (<-chan int)"},
		{ipc.TypeName[box[doc]](), "ipc_test.box[ipc_test.doc]"},
		{ipc.TypeName[box[*time.Time]](), "ipc_test.box[*time.Time]"},
		{ipc.TypeName[box[box[int]]](), "ipc_test.box[ipc_test.box[int]]"},
		{ipc.TypeName[pair[agentos.AgentID, map[string][]doc]](), "ipc_test.pair[agentos.AgentID,map[string][]ipc_test.doc]"},
		{ipc.TypeName[[]box[doc]](), "[]ipc_test.box[ipc_test.doc]"},
		{ipc.TypeName[struct{}](), "struct {}"},
		{ipc.TypeName[struct{ D doc }](), "struct { D ipc_test.doc }"},
		{ipc.TypeName[func(doc) error](), "func(ipc_test.doc) error"},
		{ipc.TypeName[interface{ M() doc }](), "interface { M() ipc_test.doc }"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.got)
		})
	}
}
