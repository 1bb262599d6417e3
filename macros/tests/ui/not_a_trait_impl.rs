// `#[async_export]` belongs on an impl of a generated trait.
struct Calc;

#[wasync::async_export]
impl Calc {
    async fn add(a: u32, b: u32) -> u32 {
        a + b
    }
}

fn main() {}
