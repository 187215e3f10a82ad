@main
enum Entrypoint {
    static func main() async {
        await RootCommand.main()
    }
}
