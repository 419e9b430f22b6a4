#!/bin/bash
# man_keys.sh: the manual pages keep up with the code. Every key of every parameter table
# (src/net/op_*.c, src/net/solver_params.c, src/data/iter*.c) has an entry in
# mxtrain.conf(5), in the section of its layer type, iterator kind or table, with the
# table's type and default, and no entry there names a key the table lacks; every layer
# type, alias, input and enum choice is named there; every option of mxtrain, mxpredict and im2rec
# is in its page; confs/fmnist-mlp.conf is in the EXAMPLES line for line; and groff reads
# each page without a warning.
# MANDIR=dir checks the pages in dir instead of man/ (to try an edited copy).
. "$(dirname "$0")/testlib.sh"
: "${MANDIR:=$top_srcdir/man}"
CONF_PAGE=$MANDIR/mxtrain.conf.5

for page in mxtrain.1 mxpredict.1 im2rec.1 mxtrain.conf.5; do
	if [ ! -f "$MANDIR/$page" ]; then
		fail "$MANDIR/$page does not exist"
		finish
		exit 1
	fi
done

# The page as text: comments dropped, roff escapes for characters turned into the
# characters; font changes (\fB ... \fR) kept, so entries can be told from mentions.
plain() {
	sed -e '/^\.\\"/d' -e 's/\\-/-/g' -e 's/\\(dq/"/g' -e 's/\\(aq/'"'"'/g' -e 's/\\&//g' \
		-e 's/\\~/ /g' -e 's/\\e/\\/g' "$1"
}
plain "$CONF_PAGE" > "$WORK/conf5"

# region NAME: the lines of the first section or subsection whose heading holds NAME as a
# word (case ignored), up to the next heading of the same or a higher level.
region() {
	awk -v name="$(printf '%s' "$1" | tr 'A-Z' 'a-z')" '
		/^\.S[HS]( |$)/ {
			level = ($1 == ".SH") ? 1 : 2
			if (inside && level <= inside_level)
				inside = 0
			if (!found) {
				text = tolower(substr($0, 4))
				gsub(/[^a-z0-9_]/, " ", text)
				if (index(" " text " ", " " name " ")) {
					found = 1
					inside = 1
					inside_level = level
				}
			}
		}
		inside { print }
	' "$WORK/conf5"
}

# The tables, descriptors and string arrays of the sources, one record per line:
#   ENTRY <file> <table> <key> <type> <default or NULL> <choices array or ->
#   DESC <file> <op_desc|iter_kind> <name> <params table or -> <aliases or -> <inputs or ->
#   ARRAY <file> <array> <string>...
#   TABLE <file> <table> <number of entries>
parse_sources() {
	awk '
		# Replaces each string literal of s with @i@ and keeps its text in str[i].
		function hide_strings(s,   out, n) {
			out = ""
			n_str = 0
			while (match(s, /"([^"\\]|\\.)*"/)) {
				str[n_str] = substr(s, RSTART + 1, RLENGTH - 2)
				out = out substr(s, 1, RSTART - 1) "@" n_str "@"
				n_str++
				s = substr(s, RSTART + RLENGTH)
			}
			return out s
		}
		function unhide(f) {
			gsub(/^[ \t{]+|[ \t}]+$/, "", f)
			if (f ~ /^@[0-9]+@$/)
				return str[substr(f, 2, length(f) - 2) + 0]
			return f
		}
		function braces(s,   t, opens, closes) {
			t = s
			gsub(/"([^"\\]|\\.)*"/, "", t)
			opens = gsub(/\{/, "{", t)
			closes = gsub(/\}/, "}", t)
			return opens - closes
		}
		function finish_entry(   s, f, n, prev) {
			s = hide_strings(entry)
			do {
				prev = s
				gsub(/\([^()]*\)/, "", s)
			} while (s != prev)
			n = split(s, f, ",")
			type = unhide(f[2])
			sub(/^PARAM_/, "", type)
			print "ENTRY", FILENAME, table, unhide(f[1]), type, (unhide(f[5]) == "" ? "\"\"" : unhide(f[5])), \
				(f[6] ~ /^[ \t]*[A-Za-z_][A-Za-z_0-9]*[ \t]*$/ && unhide(f[6]) != "NULL" ? unhide(f[6]) : "-")
			count[FILENAME " " table]++
			entry = ""
		}
		function finish_array(   name, s, line, i) {
			name = array
			sub(/\[\].*/, "", name)
			sub(/.*[ \t*]/, "", name)
			s = hide_strings(array)
			line = "ARRAY " FILENAME " " name
			for (i = 0; i < n_str; i++)
				line = line " " str[i]
			print line
			array = ""
		}
		FNR == 1 { table = ""; desc = ""; array = ""; entry = "" }
		/param_spec [A-Za-z_0-9]+\[\][ \t]*=/ {
			table = $0
			sub(/\[\].*/, "", table)
			sub(/.*param_spec[ \t]+/, "", table)
			count[FILENAME " " table] += 0
			order[++n_tables] = FILENAME " " table
		}
		array != "" {
			array = array " " $0
			if (array ~ /\}/)
				finish_array()
			next
		}
		entry != "" {
			entry = entry " " $0
			if (braces(entry) <= 0)
				finish_entry()
			next
		}
		/\{[ \t]*"[A-Za-z_0-9]+"[ \t]*,[ \t]*PARAM_[A-Z0-9]+/ {
			entry = $0
			sub(/^.*\{[ \t]*"/, "{\"", entry)
			if (braces(entry) <= 0)
				finish_entry()
			next
		}
		/struct (op_desc|iter_kind) [A-Za-z_0-9]+[ \t]*=[ \t]*\{/ {
			desc = ($0 ~ /op_desc/) ? "op_desc" : "iter_kind"
			d_name = d_params = d_aliases = d_inputs = "-"
			next
		}
		desc != "" && /^[ \t]*\.name[ \t]*=/ { s = hide_strings($0); d_name = str[0] }
		desc != "" && /^[ \t]*\.params[ \t]*=/ { d_params = $0; sub(/.*=[ \t]*/, "", d_params); sub(/[ \t]*,.*/, "", d_params) }
		desc != "" && /^[ \t]*\.aliases[ \t]*=/ { d_aliases = $0; sub(/.*=[ \t]*/, "", d_aliases); sub(/[ \t]*,.*/, "", d_aliases) }
		desc != "" && /^[ \t]*\.inputs[ \t]*=/ { d_inputs = $0; sub(/.*=[ \t]*/, "", d_inputs); sub(/[ \t]*,.*/, "", d_inputs) }
		desc != "" && /^\};/ {
			print "DESC", FILENAME, desc, d_name, d_params, d_aliases, d_inputs
			desc = ""
		}
		# A string array, on one line or more: {"a", "b",\n "c", NULL};
		/char[ \t]*\*[ \t]*const[ \t]+[A-Za-z_0-9]+\[\][ \t]*=[ \t]*\{.*"/ {
			array = $0
			if (array ~ /\}/)
				finish_array()
		}
		END {
			for (i = 1; i <= n_tables; i++) {
				split(order[i], p, " ")
				print "TABLE", p[1], p[2], count[order[i]]
			}
		}
	' "$@"
}

cd "$top_srcdir" || exit 1
sources=$(ls src/net/op_*.c src/net/solver_params.c src/data/iter*.c 2>/dev/null)
parse_sources $sources > "$WORK/records"

# Where each table is documented: every layer type or iterator kind whose descriptor
# names it, else the table's name without "_params" (solver, model, common).
table_regions() {
	local file=$1 table=$2 r
	r=$(awk -v f="$file" -v t="$table" '$1 == "DESC" && $2 == f && $5 == t { print $4 }' "$WORK/records")
	[ -n "$r" ] || r=${table%_params}
	printf '%s\n' "$r"
}

# has_word FILE WORD: WORD occurs in FILE between characters that cannot be part of a name.
has_word() {
	awk -v w="$2" '
		{
			s = $0
			while ((i = index(s, w)) > 0) {
				before = i > 1 ? substr(s, i - 1, 1) : " "
				after = substr(s, i + length(w), 1)
				if (before !~ /[A-Za-z0-9_]/ && after !~ /[A-Za-z0-9_]/) { found = 1; exit }
				s = substr(s, i + 1)
			}
		}
		END { exit !found }
	' "$1"
}

type_word() {
	case $1 in
	INT) echo int ;; INT64) echo int64 ;; FLOAT) echo float ;; BOOL) echo bool ;;
	STRING) echo string ;; ENUM) echo enum ;; SHAPE) echo shape ;; *) echo "$1" ;;
	esac
}

# Tables the parser could not read (entries written some other way) would pass unseen.
while read -r _ file table n; do
	if [ "$n" -eq 0 ] && ! grep -A1 "param_spec $table\[\]" "$file" | grep -q 'PARAM_END'; then
		fail "$file: table $table has entries this test cannot read (write them as {\"key\", PARAM_...})"
	fi
done < <(grep '^TABLE ' "$WORK/records")

# Every key: an entry (.TP, then ".BR key ..." or "\fBkey\fR ...") in its region, saying
# its type and default.
while read -r _ file table key type def choices; do
	for where in $(table_regions "$file" "$table"); do
		region "$where" > "$WORK/region"
		label="$where: $key ($file)"
		if [ ! -s "$WORK/region" ]; then
			fail "$label: mxtrain.conf(5) has no section or subsection headed \"$where\""
			continue
		fi
		line=$(awk -v k="$key" '
			(prev == ".TP" || prev == ".TQ") &&
			    (index($0, ".B " k) == 1 || index($0, ".BR " k) == 1 || index($0, ".BI " k) == 1 ||
			     index($0, "\\fB" k "\\f") == 1) {
				rest = substr($0, index($0, k) + length(k), 1)
				if (rest == "" || rest == " " || rest == "\\") { print; exit }
			}
			{ prev = $1 }' "$WORK/region" | sed 's/\\f[BIRP]//g')
		tword=$(type_word "$type")
		if [ -z "$line" ]; then
			fail "$label: no entry in mxtrain.conf(5) (write .TP then .BR $key \" = \\fI$tword\\fR, default ...\")"
			continue
		fi
		if ! printf '%s\n' "$line" | grep -qE "= $tword([^a-z0-9_]|$)"; then
			fail "$label: the entry does not say \"= $tword\": $line"
			continue
		fi
		if [ "$def" = NULL ]; then
			want=required
		else
			want="default $def"
		fi
		if ! printf '%s\n' "$line" | awk -v w="$want" '{
				i = index($0, w)
				if (i && substr($0, i + length(w), 1) !~ /[A-Za-z0-9_.]/) ok = 1
			} END { exit !ok }'; then
			fail "$label: the entry does not say \"$want\" (the table's default): $line"
			continue
		fi
		pass "$label = $tword, $want"
		if [ "$choices" != - ]; then
			for c in $(awk -v f="$file" -v a="$choices" '$1 == "ARRAY" && $2 == f && $3 == a { for (i = 4; i <= NF; i++) print $i }' "$WORK/records"); do
				if has_word "$WORK/region" "$c"; then
					pass "$where: $key: choice $c"
				else
					fail "$where: $key: the choice \"$c\" is not named in its section of mxtrain.conf(5)"
				fi
			done
		fi
	done
done < <(grep '^ENTRY ' "$WORK/records")

# No entry in a table's section names a key the table does not have (renamed, removed).
while read -r _ file table _; do
	for where in $(table_regions "$file" "$table"); do
		echo "$where $file $table"
	done
done < <(grep '^TABLE ' "$WORK/records") > "$WORK/regions"
for where in $(awk '{ print $1 }' "$WORK/regions" | sort -u); do
	region "$where" > "$WORK/region"
	awk -v w="$where" 'NR == FNR { if ($1 == w) want[$2 " " $3] = 1; next }
		$1 == "ENTRY" && (($2 " " $3) in want) { print $4 }' "$WORK/regions" "$WORK/records" > "$WORK/keys"
	awk '(prev == ".TP" || prev == ".TQ") && /^(\.B[RI]? |\\fB)[A-Za-z_0-9]+(\\f[RP])?( " | )= / {
			k = $0
			sub(/^(\.B[RI]? |\\fB)/, "", k)
			sub(/[^A-Za-z_0-9].*/, "", k)
			print k
		}
		{ prev = $1 }' "$WORK/region" > "$WORK/entries"
	while read -r key; do
		if grep -qxF -- "$key" "$WORK/keys"; then
			pass "$where: the entry $key is a key of its table"
		else
			fail "$where: mxtrain.conf(5) documents \"$key\", which is not a key of its table"
		fi
	done < "$WORK/entries"
done

# Every layer type and iterator kind: its section, with its aliases and input names.
while read -r _ file kind name params aliases inputs; do
	region "$name" > "$WORK/region"
	if [ ! -s "$WORK/region" ]; then
		fail "$kind $name ($file): mxtrain.conf(5) has no section headed \"$name\""
		continue
	fi
	pass "$kind $name has its section"
	for array in $aliases $inputs; do
		[ "$array" = - ] && continue
		for w in $(awk -v f="$file" -v a="$array" '$1 == "ARRAY" && $2 == f && $3 == a { for (i = 4; i <= NF; i++) print $i }' "$WORK/records"); do
			if has_word "$WORK/region" "$w"; then
				pass "$name: $w"
			else
				fail "$name ($file): \"$w\" ($array) is not named in its section of mxtrain.conf(5)"
			fi
		done
	done
done < <(grep '^DESC ' "$WORK/records")

# Every option the programs accept is in their pages.
for prog in mxtrain mxpredict im2rec; do
	plain "$MANDIR/$prog.1" > "$WORK/$prog.1"
	for opt in $(grep -oE 'strcmp\(a, "-[-a-z]+"\)|\{"-[-a-z]+", ARG_' "src/cli/$prog.c" | sed -E 's/.*"(-[-a-z]+)".*/\1/' | sort -u); do
		if grep -qE -- "(^|[^-A-Za-z0-9])$opt([^-A-Za-z0-9]|$)" "$WORK/$prog.1"; then
			pass "$prog(1) names $opt"
		else
			fail "$prog(1) does not name the option $opt (src/cli/$prog.c)"
		fi
	done
done

# The EXAMPLES section holds confs/fmnist-mlp.conf line for line.
region EXAMPLES > "$WORK/examples"
missing=$(awk 'NR == FNR { have[$0] = 1; next } NF && !($0 in have) { print FNR ": " $0 }' \
	"$WORK/examples" confs/fmnist-mlp.conf)
if [ -z "$missing" ]; then
	pass "mxtrain.conf(5) EXAMPLES holds confs/fmnist-mlp.conf"
else
	fail "mxtrain.conf(5) EXAMPLES differs from confs/fmnist-mlp.conf at line $(printf '%s\n' "$missing" | head -1)"
fi

# groff reads each page without a warning.
if command -v groff > /dev/null; then
	for page in mxtrain.1 mxpredict.1 im2rec.1 mxtrain.conf.5; do
		warnings=$(groff -man -Tutf8 -ww -z "$MANDIR/$page" 2>&1)
		if [ -z "$warnings" ]; then
			pass "groff -ww reads $page without a warning"
		else
			fail "groff -ww on $page: $(printf '%s\n' "$warnings" | head -3)"
		fi
	done
else
	echo "SKIP: groff is not installed; the pages were not formatted"
fi

finish
