import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;

/** Reads a name from stdin and greets it: exercises stdin forwarding. */
public class Greet {
    public static void main(String[] args) throws IOException {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        String name = in.readLine();
        System.out.println("Hello, " + (name == null ? "" : name.trim()) + "!");
    }
}
