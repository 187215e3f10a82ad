// Does not compile on purpose; note the public class is not named after the file, and
// the error message must still name this file.
public class Main {
    public static void main(String[] args) {
        int x = "not a number";
    }
}
