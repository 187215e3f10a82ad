import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

import jdk.jshell.Diag;
import jdk.jshell.EvalException;
import jdk.jshell.ExpressionSnippet;
import jdk.jshell.JShell;
import jdk.jshell.JShellException;
import jdk.jshell.Snippet;
import jdk.jshell.SnippetEvent;
import jdk.jshell.SourceCodeAnalysis;
import jdk.jshell.UnresolvedReferenceException;
import jdk.jshell.VarSnippet;

/**
 * coderunner's Java kernel driver: a JShell (jdk.jshell API) kept alive across cells.
 *
 * Protocol (described in the agent's KernelCommand.swift): commands `EXEC <cell> <nbytes>\n<code>` on fd 0 (the wrapper script moves it to
 * fd 4 and gives fd 0 /dev/null, so user code cannot read commands), cell output on fd 1/2, events (READY, DONE) on fd 3.
 *
 * The execution engine is "local": snippets run in this JVM, because a second (remote) JVM does not fit in 128 MB.
 * SIGINT calls {@link JShell#stop()}, which stops the snippet thread (Thread.stop, still available in JDK 17).
 * Values are shown jshell-style for the cell's LAST snippet only (`$1 ==> 2`, `x ==> 5`), like a notebook shows only
 * the final expression; declarations are silent, errors go to stderr in jshell's `|  Error:` format.
 */
public final class JavaKernel {
    /** jshell's own DEFAULT start-up imports, so cells behave like the jshell tool. */
    private static final String[] DEFAULT_IMPORTS = {
        "import java.io.*;", "import java.math.*;", "import java.net.*;", "import java.nio.file.*;",
        "import java.util.*;", "import java.util.concurrent.*;", "import java.util.function.*;",
        "import java.util.regex.*;", "import java.util.stream.*;",
    };

    private final JShell shell;
    private final PrintStream out;
    private final PrintStream err;
    private final OutputStream events;
    /** Set while a cell runs; the SIGINT handler only stops user code then. */
    private volatile boolean running;
    private volatile boolean interrupted;

    private JavaKernel(JShell shell, PrintStream out, PrintStream err, OutputStream events) {
        this.shell = shell;
        this.out = out;
        this.err = err;
        this.events = events;
    }

    public static void main(String[] args) throws Exception {
        PrintStream out = System.out;
        PrintStream err = System.err;
        // Commands come on fd 4 (see java-kernel); fall back to fd 0 when started without the wrapper.
        InputStream commands = new java.io.File("/proc/self/fd/4").exists()
            ? new FileInputStream("/proc/self/fd/4") : new FileInputStream(java.io.FileDescriptor.in);
        System.setIn(new ByteArrayInputStream(new byte[0]));
        OutputStream events = new FileOutputStream("/proc/self/fd/3");

        JShell shell = JShell.builder()
            .executionEngine("local")
            .in(new ByteArrayInputStream(new byte[0])).out(out).err(err)
            .compilerOptions("-Xlint:none", "-proc:none")
            .build();
        for (String imp : DEFAULT_IMPORTS) shell.eval(imp);
        // Warm up the compiler and the execution path so the first user cell is not the slow one.
        shell.eval("int $coderunnerWarmup = java.util.List.of(1, 2).stream().mapToInt(Integer::intValue).sum();");
        shell.drop(shell.variables().filter(v -> v.name().equals("$coderunnerWarmup")).findFirst().orElseThrow());

        JavaKernel kernel = new JavaKernel(shell, out, err, events);
        onSigint(kernel::onInterrupt);
        kernel.event("READY\n");
        kernel.loop(new DataInputStream(commands));
        System.exit(0);  // snippet threads the user left running must not keep the kernel alive
    }

    /**
     * sun.misc.Signal through reflection: the API is fine to use (module jdk.unsupported) but a direct reference makes
     * javac print unsuppressible "internal proprietary API" warnings in every image build.
     */
    private static void onSigint(Runnable action) throws ReflectiveOperationException {
        Class<?> signal = Class.forName("sun.misc.Signal");
        Class<?> handler = Class.forName("sun.misc.SignalHandler");
        Object proxy = java.lang.reflect.Proxy.newProxyInstance(handler.getClassLoader(), new Class<?>[] {handler}, (p, m, a) -> {
            if (m.getName().equals("handle")) action.run();
            return null;
        });
        signal.getMethod("handle", signal, handler).invoke(null, signal.getConstructor(String.class).newInstance("INT"), proxy);
    }

    private void onInterrupt() {
        if (!running) return;
        interrupted = true;
        shell.stop();
    }

    private void loop(DataInputStream in) throws IOException {
        while (true) {
            String header;
            try {
                header = readLine(in);
            } catch (EOFException e) {
                break;  // the agent went away
            }
            if (header.isEmpty()) continue;
            String[] parts = header.split(" ");
            if (parts.length != 3 || !parts[0].equals("EXEC")) {
                err.println("coderunner java kernel: unknown command: " + header);
                err.flush();
                continue;
            }
            long cell = Long.parseLong(parts[1]);
            byte[] code = new byte[Integer.parseInt(parts[2])];
            in.readFully(code);
            boolean ok;
            interrupted = false;
            running = true;
            try {
                ok = runCell(new String(code, StandardCharsets.UTF_8));
            } catch (RuntimeException | Error e) {
                // A JShell failure (not the user's): report it and keep serving.
                err.println("coderunner java kernel: internal error: " + e);
                ok = false;
            } finally {
                running = false;
            }
            if (interrupted) {
                err.println("|  Interrupted (the cell was stopped)");
                ok = false;
            }
            System.out.flush();
            System.err.flush();
            out.flush();
            err.flush();
            event("DONE " + cell + (ok ? " ok\n" : " error\n"));
        }
        shell.close();
    }

    /** Evaluates a cell snippet by snippet; stops at the first error. Returns false on error or interrupt. */
    private boolean runCell(String code) {
        SourceCodeAnalysis analysis = shell.sourceCodeAnalysis();
        String remaining = code;
        while (!remaining.isBlank()) {
            if (interrupted) return false;
            SourceCodeAnalysis.CompletionInfo info = analysis.analyzeCompletion(remaining);
            String source;
            switch (info.completeness()) {
                case EMPTY:
                    return true;
                case DEFINITELY_INCOMPLETE:
                case CONSIDERED_INCOMPLETE:
                    // Give the rest to JShell as it is: the compiler explains what is missing.
                    source = remaining;
                    remaining = "";
                    break;
                default:
                    source = info.source();
                    remaining = info.remaining();
            }
            boolean last = remaining.isBlank();
            if (!evalSnippet(source, last)) return false;
        }
        return true;
    }

    private boolean evalSnippet(String source, boolean last) {
        List<SnippetEvent> events = shell.eval(source);
        boolean ok = true;
        for (SnippetEvent e : events) {
            if (e.causeSnippet() != null) continue;  // updates of dependent snippets: jshell's tool is quiet about them too
            Snippet snippet = e.snippet();
            if (e.status() == Snippet.Status.REJECTED) {
                printDiagnostics(snippet);
                return false;
            }
            if (interrupted) return false;
            JShellException exception = e.exception();
            if (exception != null) {
                printException(exception);
                ok = false;
                continue;
            }
            if (e.status() == Snippet.Status.RECOVERABLE_DEFINED || e.status() == Snippet.Status.RECOVERABLE_NOT_DEFINED) {
                String missing = shell.unresolvedDependencies((jdk.jshell.DeclarationSnippet) snippet).collect(Collectors.joining(", "));
                err.println("|  note: " + describe(snippet) + " cannot be used until this is declared: " + missing);
            }
            if (last && e.value() != null) printValue(snippet, e.value());
        }
        return ok;
    }

    /** jshell's feedback for values: `$1 ==> 2` for expressions, `x ==> 5` for variables and assignments. */
    private void printValue(Snippet snippet, String value) {
        String name;
        if (snippet instanceof VarSnippet) {
            name = ((VarSnippet) snippet).name();
        } else if (snippet instanceof ExpressionSnippet) {
            name = ((ExpressionSnippet) snippet).name();
        } else {
            return;
        }
        out.println(name + " ==> " + value);
    }

    private static String describe(Snippet snippet) {
        switch (snippet.kind()) {
            case METHOD: return "method " + ((jdk.jshell.MethodSnippet) snippet).name();
            case TYPE_DECL: return "type " + ((jdk.jshell.TypeDeclSnippet) snippet).name();
            case VAR: return "variable " + ((VarSnippet) snippet).name();
            default: return "snippet";
        }
    }

    /** Like the jshell tool: message, then the offending source line with a caret under the error position. */
    private void printDiagnostics(Snippet snippet) {
        String src = snippet.source();
        shell.diagnostics(snippet).forEach(d -> {
            err.println(d.isError() ? "|  Error:" : "|  Warning:");
            for (String line : d.getMessage(Locale.ROOT).split("\n")) {
                if (line.trim().equals("location: class")) continue;  // JShell's hidden wrapper class: noise
                err.println("|  " + line);
            }
            long pos = d.getPosition();
            if (pos >= 0 && pos <= src.length()) {
                int start = src.lastIndexOf('\n', (int) Math.max(0, pos - 1)) + 1;
                if (pos == 0) start = 0;
                int end = src.indexOf('\n', (int) pos);
                if (end < 0) end = src.length();
                String line = src.substring(start, end);
                err.println("|  " + line);
                err.println("|  " + " ".repeat((int) pos - start) + "^");
            }
        });
    }

    private void printException(JShellException exception) {
        if (exception instanceof UnresolvedReferenceException) {
            Snippet s = ((UnresolvedReferenceException) exception).getSnippet();
            String missing = shell.unresolvedDependencies((jdk.jshell.DeclarationSnippet) s).collect(Collectors.joining(", "));
            err.println("|  attempted to use " + describe(s) + ", which cannot be invoked until this is declared: " + missing);
            return;
        }
        Throwable t = exception;
        String prefix = "|  Exception ";
        while (t != null) {
            String cls = t instanceof EvalException ? ((EvalException) t).getExceptionClassName() : t.getClass().getName();
            String msg = t.getMessage();
            err.println(prefix + cls + (msg == null ? "" : ": " + msg));
            for (StackTraceElement ste : t.getStackTrace()) {
                String cn = ste.getClassName();
                StringBuilder sb = new StringBuilder();
                if (!cn.isEmpty() && !cn.startsWith("REPL.")) {
                    sb.append(cn.substring(cn.lastIndexOf('.') + 1)).append('.');
                }
                if (!ste.getMethodName().isEmpty() && !ste.getMethodName().equals("do_it$")) sb.append(ste.getMethodName()).append(' ');
                String loc = ste.isNativeMethod() ? "Native Method"
                    : ste.getFileName() == null ? "Unknown Source"
                    : ste.getLineNumber() >= 0 ? ste.getFileName() + ":" + ste.getLineNumber() : ste.getFileName();
                err.println("|        at " + sb + "(" + loc + ")");
            }
            t = t.getCause();
            prefix = "|  Caused by: ";
        }
    }

    private void event(String line) {
        try {
            events.write(line.getBytes(StandardCharsets.US_ASCII));
            events.flush();
        } catch (IOException e) {
            System.exit(0);  // the agent closed the event pipe: nobody is listening any more
        }
    }

    private static String readLine(DataInputStream in) throws IOException {
        ByteArrayOutputStream buf = new ByteArrayOutputStream(32);
        while (true) {
            int b = in.read();
            if (b < 0) throw new EOFException();
            if (b == '\n') return buf.toString(StandardCharsets.US_ASCII);
            buf.write(b);
        }
    }
}
