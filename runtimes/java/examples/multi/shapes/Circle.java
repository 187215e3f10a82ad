package shapes;

public class Circle implements Shape {
    private final double r;

    public Circle(double r) { this.r = r; }

    @Override
    public double area() { return Math.PI * r * r; }

    @Override
    public String name() { return "circle"; }
}
