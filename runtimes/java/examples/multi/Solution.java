// The entry file: its main class is named Main, not Solution (as many real submissions are),
// and it is public, which plain javac would reject; the runtime compiles it anyway.
import shapes.Circle;
import shapes.Square;

public class Main {
    public static void main(String[] args) {
        System.out.println(new Circle(1.0).describe());
        System.out.println(new Square(2.0).describe());
        System.out.println("args: " + String.join(",", args));
    }
}
