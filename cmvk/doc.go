// Package cmvk is cross-model verification: the same prompt to several
// models, pairwise drift between their answers, and a verdict on whether
// they agree.
package cmvk
