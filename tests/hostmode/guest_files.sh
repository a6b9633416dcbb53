#!/bin/bash
# tests/hostmode/guest_files.sh: the file ops of a host-mode sbx-init: a
# 100 MiB round trip compared by sha256, binary bytes, parents created on
# write, mkdir/list/stat/rename/delete and their stable error codes.
. "$(dirname "$0")/lib/agent.sh"

if ! agent_start; then
	skip guest_files "$SKIP_ALL"
	exit 0
fi
O=$TDIR/out

head -c $((100 << 20)) /dev/urandom >"$TDIR/big"
cli write big.bin <"$TDIR/big" >"$O"
cli read big.bin 2>/dev/null | sha256sum >"$TDIR/sum"
if grep -q 'OK size=104857600' "$O" && [ "$(cat "$TDIR/sum")" = "$(sha256sum <"$TDIR/big")" ] &&
	cmp -s "$TDIR/big" "$WS/big.bin"; then pass file_100mib_round_trip_sha256
else fail file_100mib_round_trip_sha256 "$(cat "$O")"; fi
rm -f "$TDIR/big"

if ! ls -a "$WS" | grep -q sbx-tmp; then pass file_write_leaves_no_temp
else fail file_write_leaves_no_temp "$(ls -a "$WS")"; fi

printf '\000\377\376x' | cli write /workspace/a/b/c.bin >/dev/null
if [ "$(od -An -tx1 "$WS/a/b/c.bin" | tr -d ' \n')" = 00fffe78 ]; then pass file_write_makes_parents_binary
else fail file_write_makes_parents_binary; fi

cli read nope.txt >/dev/null 2>"$O"; rc=$?
if [ $rc = 3 ] && grep -q 'code=not_found' "$O"; then pass file_read_not_found
else fail file_read_not_found "rc=$rc $(cat "$O")"; fi

cli read a >/dev/null 2>"$O"; rc=$?
if [ $rc = 3 ] && grep -q 'code=is_directory' "$O"; then pass file_read_directory_error
else fail file_read_directory_error "rc=$rc $(cat "$O")"; fi

echo x | cli write a/b/c.bin/d >"$O"; rc=$?
if [ $rc = 3 ] && grep -q 'code=not_directory' "$O"; then pass file_write_under_file_error
else fail file_write_under_file_error "rc=$rc $(cat "$O")"; fi

cli mkdir d1 >/dev/null && cli mkdir d1 >"$O"; rc=$?
if [ $rc = 3 ] && grep -q 'code=exists' "$O"; then pass mkdir_exists_error
else fail mkdir_exists_error "rc=$rc $(cat "$O")"; fi

if cli mkdir -p d2/x/y >/dev/null && [ -d "$WS/d2/x/y" ]; then pass mkdir_recursive
else fail mkdir_recursive; fi

echo hi >"$WS/d2/x/f.txt"; echo h >"$WS/d2/.hidden"
cli ls d2 >"$O"
if grep -q 'name=x path=d2/x type=2' "$O" && ! grep -q hidden "$O" && grep -q 'END count=1' "$O"; then
	pass list_plain_hides_dotfiles
else fail list_plain_hides_dotfiles "$(cat "$O")"; fi
cli ls -r -a d2 >"$O"
if grep -q 'name=x/f.txt path=d2/x/f.txt type=1 size=3' "$O" && grep -q 'name=.hidden' "$O" &&
	grep -q 'END count=4' "$O"; then pass list_recursive_hidden
else fail list_recursive_hidden "$(cat "$O")"; fi

cli ls a/b/c.bin >"$O"; rc=$?
if [ $rc = 3 ] && grep -q 'code=not_directory' "$O"; then pass list_not_directory_error
else fail list_not_directory_error "$(cat "$O")"; fi

if cli stat d2/x/f.txt | grep -q 'ENTRY name=f.txt .*type=1 size=3 mode=' &&
	cli stat d2/none | grep -q 'code=not_found'; then pass stat_exists
else fail stat_exists; fi

if cli mv d2/x/f.txt -d d2/g.txt >/dev/null && [ -f "$WS/d2/g.txt" ] && [ ! -e "$WS/d2/x/f.txt" ]; then
	pass rename_move
else fail rename_move; fi

cli rm d2 >"$O"; rc=$?
if [ $rc = 3 ] && grep -q 'code=not_empty' "$O"; then pass delete_nonempty_needs_recursive
else fail delete_nonempty_needs_recursive "$(cat "$O")"; fi

ln -s /etc "$WS/d2/link"
if cli rm -r d2 >/dev/null && [ ! -e "$WS/d2" ] && [ -d /etc ]; then pass delete_recursive_keeps_symlink_targets
else fail delete_recursive_keeps_symlink_targets; fi

cli rm missing >"$O"; rc=$?
if [ $rc = 3 ] && grep -q 'code=not_found' "$O"; then pass delete_not_found
else fail delete_not_found "$(cat "$O")"; fi

# Deep trees: recursion must not exhaust the agent's thread stacks.
deep=$WS/deep
mkdir -p "$deep/$(printf 'd/%.0s' $(seq 60))"
cli ls -r deep >"$O"
if grep -q 'END count=60' "$O"; then pass list_deep_tree
else fail list_deep_tree "$(tail -1 "$O")"; fi
p=$deep; for _ in $(seq 200); do p=$p/e; done; mkdir -p "$p"
if cli rm -r deep >/dev/null && [ ! -e "$deep" ]; then pass delete_deep_tree
else fail delete_deep_tree; fi

exit $CHECK_FAILED
