// coderunner C++ kernel: REPL-style display of a cell's final expression (a last line without ';').
// The kernel wraps it as __cr::show(((EXPR), __cr::Void{})): the overloaded comma captures any value,
// while a void expression falls back to the built-in comma and yields Void (nothing is shown).
#pragma once
#include <iostream>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

namespace __cr {
struct Void {};
template <class T> struct Held { T&& v; };
template <class T> Held<T> operator,(T&& v, Void) { return Held<T>{std::forward<T>(v)}; }

template <class T, class = void> struct streamable : std::false_type {};
template <class T> struct streamable<T, std::void_t<decltype(std::declval<std::ostream&>() << std::declval<const T&>())>> : std::true_type {};
template <class T, class = void> struct iterable : std::false_type {};
template <class T> struct iterable<T, std::void_t<decltype(std::begin(std::declval<const T&>())), decltype(std::end(std::declval<const T&>()))>> : std::true_type {};
template <class T> struct is_pair : std::false_type {};
template <class A, class B> struct is_pair<std::pair<A, B>> : std::true_type {};
template <class T> struct is_tuple : std::false_type {};
template <class... A> struct is_tuple<std::tuple<A...>> : std::true_type {};

template <class T> void put(std::ostream& o, const T& v);
inline void quoted(std::ostream& o, std::string_view s) {
    o << '"';
    for (char c : s) {
        switch (c) {
        case '"': o << "\\\""; break;
        case '\\': o << "\\\\"; break;
        case '\n': o << "\\n"; break;
        case '\t': o << "\\t"; break;
        default: o << c;
        }
    }
    o << '"';
}
template <class T> void put(std::ostream& o, const T& v) {
    using D = std::decay_t<T>;
    if constexpr (std::is_same_v<D, bool>) o << (v ? "true" : "false");
    else if constexpr (std::is_same_v<D, char>) o << '\'' << v << '\'';
    else if constexpr (std::is_same_v<D, std::string> || std::is_same_v<D, std::string_view> || std::is_same_v<D, const char*> || std::is_same_v<D, char*>) quoted(o, v);
    else if constexpr (std::is_array_v<T> && std::is_same_v<std::remove_cv_t<std::remove_extent_t<T>>, char>) quoted(o, v);
    else if constexpr (is_pair<D>::value) { o << '('; put(o, v.first); o << ", "; put(o, v.second); o << ')'; }
    else if constexpr (is_tuple<D>::value) {
        o << '(';
        std::apply([&](const auto&... xs) { std::size_t i = 0; ((o << (i++ ? ", " : ""), put(o, xs)), ...); }, v);
        o << ')';
    }
    else if constexpr (iterable<T>::value && !streamable<T>::value) {
        o << '{';
        bool first = true;
        for (const auto& x : v) { if (!first) o << ", "; first = false; put(o, x); }
        o << '}';
    }
    else if constexpr (std::is_same_v<D, unsigned char> || std::is_same_v<D, signed char>) o << int(v);
    else if constexpr (streamable<T>::value) o << v;
    else o << "<value of an unprintable type>";
}
template <class T> void show(Held<T> h) {
    // `cout << x` as the last line: the output already happened; a stream is not a value worth showing.
    if constexpr (!std::is_base_of_v<std::ios_base, std::decay_t<T>>) { put(std::cout, h.v); std::cout << std::endl; }
}
inline void show(Void) {}
}  // namespace __cr
