# java-scan.awk: a small Java source scanner for the coderunner Java runtime.
# For each file it prints tab-separated records:
#   FILE  public  NAME     a public top-level type (javac wants it in NAME.java)
#   FILE  main    BINARY   a class declaring `public static void main(...)`, as java(1) wants it
#                          (package-qualified, nested classes joined with $)
# It strips comments, strings and text blocks first, then tracks braces; good enough for real
# submissions without needing a JVM (javap would cost ~0.5 s per run).

function reset_file() { pkg = ""; depth = 0; sp = 0; pending = ""; mods = ""; prev = ""; prev2 = ""; incomment = 0; intext = 0 }

# Removes comments and literals from one line, keeping multi-line state in incomment/intext.
function clean(s,    out, i, c, n, q) {
    out = ""; n = length(s); i = 1
    while (i <= n) {
        c = substr(s, i, 1)
        if (incomment) {
            if (c == "*" && substr(s, i + 1, 1) == "/") { incomment = 0; i += 2; continue }
            i++; continue
        }
        if (intext) {
            if (substr(s, i, 3) == "\"\"\"") { intext = 0; out = out " \"\" "; i += 3; continue }
            if (c == "\\") { i += 2; continue }
            i++; continue
        }
        if (c == "/" && substr(s, i + 1, 1) == "/") break
        if (c == "/" && substr(s, i + 1, 1) == "*") { incomment = 1; i += 2; continue }
        if (substr(s, i, 3) == "\"\"\"") { intext = 1; i += 3; continue }
        if (c == "\"" || c == "'") {
            q = c; i++
            while (i <= n) {
                c = substr(s, i, 1)
                if (c == "\\") { i += 2; continue }
                if (c == q) break
                i++
            }
            i++; out = out " \"\" "; continue
        }
        out = out c; i++
    }
    return out
}

function binary_name(    b, k) {
    b = ""
    for (k = 1; k <= sp; k++) b = b (k > 1 ? "$" : "") stack_name[k]
    return (pkg == "" ? b : pkg "." b)
}

FNR == 1 { reset_file() }

{
    line = clean($0)
    gsub(/[{}();,=<>\[\]@.]/, " & ", line)
    nt = split(line, tok, /[ \t\r]+/)
    for (t = 1; t <= nt; t++) {
        w = tok[t]
        if (w == "") continue
        if (prev == "package" && depth == 0 && pkg == "" ) { pkgbuild = 1 }
        if (pkgbuild) {
            if (w == ";") { pkgbuild = 0 } else if (w != "package") { pkg = pkg w }
            prev2 = prev; prev = w; continue
        }
        if ((prev == "class" || prev == "interface" || prev == "enum" || prev == "record") && prev2 != "." && w ~ /^[A-Za-z_$][A-Za-z0-9_$]*$/) {
            pending = w
            if (depth == 0 && mods ~ / public /) print FILENAME "\tpublic\t" w
        }
        if (w == "{") {
            depth++
            if (pending != "") { sp++; stack_name[sp] = pending; stack_depth[sp] = depth; pending = "" }
            mods = ""
        } else if (w == "}") {
            if (sp > 0 && stack_depth[sp] == depth) sp--
            depth--; mods = ""
        } else if (w == ";") {
            mods = ""; pending = ""
        } else if (w == "public" || w == "static" || w == "final" || w == "abstract" || w == "strictfp" || w == "sealed") {
            mods = mods " " w " "
        } else if (w == "main" && prev == "void" && mods ~ / public / && mods ~ / static / && sp > 0 && stack_depth[sp] == depth) {
            print FILENAME "\tmain\t" binary_name()
        }
        prev2 = prev; prev = w
    }
}
