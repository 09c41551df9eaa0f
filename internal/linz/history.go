package linz

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/anishathalye/porcupine"
)

// savedOp is one operation of a saved history.
type savedOp struct {
	Client int    `json:"client"`
	Input  Input  `json:"input"`
	Call   int64  `json:"call"`
	Output Output `json:"output"`
	Return int64  `json:"return"` // math.MaxInt64: no answer
}

// SaveHistory writes history to path as JSON, so a history that did not check can be checked
// again (with a longer timeout, or cut down) by LoadHistory and Check.
func SaveHistory(path string, history []porcupine.Operation) error {
	ops := make([]savedOp, len(history))
	for i, op := range history {
		ops[i] = savedOp{op.ClientId, op.Input.(Input), op.Call, op.Output.(Output), op.Return}
	}
	b, err := json.Marshal(ops)
	if err != nil {
		return fmt.Errorf("encoding the history: %w", err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("saving the history: %w", err)
	}
	return nil
}

// LoadHistory reads a history SaveHistory wrote.
func LoadHistory(path string) ([]porcupine.Operation, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the history: %w", err)
	}
	var ops []savedOp
	if err := json.Unmarshal(b, &ops); err != nil {
		return nil, fmt.Errorf("%s is not a history SaveHistory wrote: %w", path, err)
	}
	history := make([]porcupine.Operation, len(ops))
	for i, op := range ops {
		history[i] = porcupine.Operation{ClientId: op.Client, Input: op.Input, Call: op.Call, Output: op.Output, Return: op.Return}
	}
	return history, nil
}
