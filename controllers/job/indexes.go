package job

import (
	"sort"
	"strconv"
	"strings"
)

// indexSet is a set of completion indexes, written as upstream writes
// status.completedIndexes: ascending, ranges joined ("1,3-5,7").
type indexSet map[int]bool

func parseIndexes(s string, limit int) indexSet {
	out := indexSet{}
	if s == "" {
		return out
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			continue
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				continue
			}
		}
		for i := a; i <= b && i < limit; i++ {
			out[i] = true
		}
	}
	return out
}

func (s indexSet) String() string {
	keys := make([]int, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	var parts []string
	for i := 0; i < len(keys); {
		j := i
		for j+1 < len(keys) && keys[j+1] == keys[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, strconv.Itoa(keys[i]))
		} else {
			parts = append(parts, strconv.Itoa(keys[i])+"-"+strconv.Itoa(keys[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}
