#!/bin/sh
# Run libFuzzer targets for a while each, two at a time (the machine has
# two cores).  usage: fuzz/run.sh SECONDS build/fuzz/NAME-fuzzer ...
#
# For target NAME: seeds come from fuzz/corpus-NAME/ (and fuzz/corpus/ for
# the frame codec, its historical home), new inputs go to
# build/fuzz/corpus-NAME/, the dictionary is fuzz/NAME.dict and extra
# libFuzzer flags are read from fuzz/NAME.options if they exist.  A crash
# leaves build/fuzz/NAME-crash-* and makes the run fail; turn it into a
# corpus file and a test in tests/unit.
secs=$1
shift
[ -n "$secs" ] && [ $# -gt 0 ] || {
	echo "usage: $0 SECONDS FUZZER ..." >&2
	exit 2
}
log=build/fuzz/logs
mkdir -p "$log"

# Run one target; its output goes to a log, one summary line to stdout.
one() {
	bin=$1
	name=$(basename "$bin" -fuzzer)
	work=build/fuzz/corpus-$name
	mkdir -p "$work"
	set -- -max_total_time="$secs" -max_len=4096 -print_final_stats=1 \
	    -artifact_prefix="build/fuzz/$name-"
	[ -f "fuzz/$name.dict" ] && set -- "$@" -dict="fuzz/$name.dict"
	[ -f "fuzz/$name.options" ] && set -- "$@" $(cat "fuzz/$name.options")
	set -- "$@" "$work"
	[ -d "fuzz/corpus-$name" ] && set -- "$@" "fuzz/corpus-$name"
	[ "$name" = frame ] && [ -d fuzz/corpus ] && set -- "$@" fuzz/corpus
	start=$(date +%s)
	if "$bin" "$@" >"$log/$name.log" 2>&1; then
		st=ok
	else
		st=FAILED
	fi
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' \
	    "$log/$name.log")
	echo "fuzz $name: $st, ${runs:-?} runs in $(($(date +%s) - start))s" \
	    "(log $log/$name.log)"
	if [ $st != ok ]; then
		grep -E 'ERROR|SUMMARY|Test unit written|==[0-9]+==' \
		    "$log/$name.log" | head -20
		return 1
	fi
}

fail=0
while [ $# -gt 0 ]; do
	one "$1" & a=$!
	b=
	if [ $# -gt 1 ]; then
		one "$2" & b=$!
		shift
	fi
	shift
	wait $a || fail=1
	[ -z "$b" ] || wait $b || fail=1
done
exit $fail
