#!/bin/bash
# tests/e2e/files.sh: the file calls: raw upload/download (a 200 MiB file
# compared by hash, streamed), list, stat, exists (HEAD), mkdir, rename,
# move, delete, and path checks.
set -u
. "$(dirname "$0")/lib.sh"

if [ ! -x "$SBX_BUILD/bin/sbxd" ] || [ ! -x "$SBX_BUILD/bin/sbx-init" ]; then
	skip e2e_files "sbxd or sbx-init not built"
	exit 0
fi
e2e_start || { fail e2e_start "sbxd did not start"; exit 1; }
S=/v1/sandboxes/fs
F=$S/files/workspace
api PUT $S >/dev/null

api PUT $F/a/b/hello.txt --data-binary 'hello world' >/dev/null; expect_status write_201 201
[ "$(api GET $F/a/b/hello.txt)" = "hello world" ] && pass read_back || fail read_back
printf '\x00\x01\xff\xfe' >"$E2E_DIR/bin"
api PUT $F/bin.dat --data-binary @"$E2E_DIR/bin" >/dev/null
api GET $F/bin.dat >"$E2E_DIR/bin2"
cmp -s "$E2E_DIR/bin" "$E2E_DIR/bin2" && pass binary_unchanged || fail binary_unchanged
api GET "$F?list=true&recursive=true" | grep -q '"a/b/hello.txt"' && pass list_recursive ||
	fail list_recursive "$(cat "$E2E_DIR/body")"
[ "$(api GET "$F/a/b/hello.txt?stat=true" | json size)" = 11 ] && pass stat_size || fail stat_size
api HEAD $F/a/b/hello.txt -I >/dev/null; expect_status exists_head_200 200
api HEAD $F/nope -I >/dev/null; expect_status exists_head_404 404
api GET $F/nope >/dev/null; expect_status read_missing_404 404
api POST "$F/d1/d2?op=mkdir&recursive=true" >/dev/null; expect_status mkdir_recursive 200
api POST "$F/d1?op=mkdir" >/dev/null; expect_status mkdir_exists_409 409
api POST "$F/a/b/hello.txt?op=rename&to=/workspace/a/renamed.txt" >/dev/null; expect_status rename 200
api POST "$F/a/renamed.txt?op=move&to=/workspace/d1/d2/moved.txt" >/dev/null; expect_status move 200
[ "$(api GET $F/d1/d2/moved.txt)" = "hello world" ] && pass moved_content || fail moved_content
api DELETE $F/d1 >/dev/null; expect_status delete_nonempty_409 409
api DELETE "$F/d1?recursive=true" >/dev/null; expect_status delete_recursive 200
api GET "$F/d1?stat=true" >/dev/null; expect_status deleted_gone 404
api POST "$F/x?op=explode" >/dev/null; expect_status unknown_op_400 400
api GET "$S/files/workspace/%2e%2e/%2e%2e/%2e%2e/etc/passwd" >/dev/null; expect_status dotdot_400 400
api GET "$S/files/workspace/a%00b" >/dev/null; expect_status nul_in_path_400 400

# 200 MiB up and down, streamed, compared by hash.
head -c $((200 * 1024 * 1024)) /dev/urandom >"$E2E_DIR/big"
want=$(sha256sum <"$E2E_DIR/big" | cut -d' ' -f1)
api PUT $F/big.bin -T "$E2E_DIR/big" >/dev/null; expect_status big_upload 201
rm -f "$E2E_DIR/big"
got=$(curl -sS --cacert "$E2E_CA" -H "Authorization: Bearer $E2E_TOKEN" "$E2E_URL$F/big.bin" | sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] && pass big_download_hash || fail big_download_hash
rss=$(awk '/VmHWM/ { print $2 }' "/proc/$E2E_PID/status")
[ "${rss:-0}" -lt 102400 ] && pass big_not_buffered || fail big_not_buffered "peak RSS ${rss} KiB"
# Expect: 100-continue is answered at once (curl otherwise waits a second)
head -c 4096 /dev/urandom >"$E2E_DIR/small"
t=$(curl -sS --cacert "$E2E_CA" -H "Authorization: Bearer $E2E_TOKEN" -H 'Expect: 100-continue' \
	-T "$E2E_DIR/small" -o /dev/null -w '%{time_total}' "$E2E_URL$F/small.bin")
awk -v t="$t" 'BEGIN { exit !(t < 0.8) }' && pass expect_100_continue || fail expect_100_continue "took ${t}s"
# chunked upload
printf 'chunky' | api PUT $F/chunked.txt -H 'Transfer-Encoding: chunked' --data-binary @- >/dev/null
[ "$(api GET $F/chunked.txt)" = chunky ] && pass chunked_upload || fail chunked_upload

exit ${CHECK_FAILED:-0}
