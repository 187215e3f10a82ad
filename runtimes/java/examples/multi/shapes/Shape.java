package shapes;

public interface Shape {
    double area();

    String name();

    default String describe() {
        return String.format(java.util.Locale.ROOT, "%s area=%.2f", name(), area());
    }
}
