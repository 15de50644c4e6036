// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Manager} from "./Manager.sol";

/// @title Devnet LPT: a minimal ERC20.
/// @notice The deployer receives a genesis supply (Livepeer's genesis distribution); afterwards
/// only the Minter mints, for per-round rewards.
contract LivepeerToken is Manager {
    string public constant name = "Livepeer Token";
    string public constant symbol = "LPT";
    uint8 public constant decimals = 18;

    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);
    event Mint(address indexed to, uint256 amount);

    constructor(address _controller, uint256 _genesisSupply) Manager(_controller) {
        _mint(msg.sender, _genesisSupply);
    }

    function mint(address _to, uint256 _amount)
        external
        onlyContract(MINTER, "caller must be Minter")
    {
        _mint(_to, _amount);
    }

    function transfer(address _to, uint256 _amount) external returns (bool) {
        _transfer(msg.sender, _to, _amount);
        return true;
    }

    function approve(address _spender, uint256 _amount) external returns (bool) {
        allowance[msg.sender][_spender] = _amount;
        emit Approval(msg.sender, _spender, _amount);
        return true;
    }

    function transferFrom(address _from, address _to, uint256 _amount) external returns (bool) {
        uint256 allowed = allowance[_from][msg.sender];
        require(allowed >= _amount, "ERC20: insufficient allowance");
        allowance[_from][msg.sender] = allowed - _amount;
        _transfer(_from, _to, _amount);
        return true;
    }

    function _transfer(address _from, address _to, uint256 _amount) private {
        require(_to != address(0), "ERC20: transfer to the zero address");
        uint256 balance = balanceOf[_from];
        require(balance >= _amount, "ERC20: transfer amount exceeds balance");
        balanceOf[_from] = balance - _amount;
        balanceOf[_to] += _amount;
        emit Transfer(_from, _to, _amount);
    }

    function _mint(address _to, uint256 _amount) private {
        totalSupply += _amount;
        balanceOf[_to] += _amount;
        emit Mint(_to, _amount);
        emit Transfer(address(0), _to, _amount);
    }
}
